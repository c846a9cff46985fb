// A plain `fetch` client, as a dashboard without a GraphQL library would be,
// against the server at URL (argv[2]): gets a report, revalidates it with its
// ETag, inserts a hire, and revalidates again. Prints one JSON line per step:
// {"step", "status", "etag", "contentType", "encoding", "rows"}.
const url = process.argv[2];
if (!url) {
  console.error('usage: node fetch.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}
const report = '{ hiresByQuarter(year: 2021) { department job total } }';

async function step(name, init) {
  const response = await fetch(url, init);
  const text = await response.text();
  let rows = null;
  if (text) {
    rows = JSON.parse(text).data?.hiresByQuarter?.reduce((sum, row) => sum + row.total, 0) ?? null;
  }
  const line = {
    step: name,
    status: response.status,
    etag: response.headers.get('etag'),
    contentType: response.headers.get('content-type'),
    rows,
  };
  console.log(JSON.stringify(line));
  return line;
}

const get = (etag) =>
  step(etag ? 'revalidate' : 'get', {
    headers: {
      accept: 'application/graphql-response+json',
      'content-type': 'application/json',
      ...(etag ? { 'if-none-match': etag } : {}),
    },
    method: 'POST',
    body: JSON.stringify({ query: report }),
  });

const first = await get();
await get(first.etag);
await step('insert', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    query: 'mutation { insertHiredEmployees(rows: [{id: 99001, name: "Fetch Client", hireDatetime: "2021-06-01T12:00:00Z", departmentId: 1, jobId: 1}]) { inserted } }',
  }),
});
await get(first.etag);
