// Measures, against a running server: how long after an insert's response its dataChanged
// event arrives (graphql-ws), and how startBackup behaves: the mutation's response time, the
// whole backup's time, and the gaps between the operation subscription's events.
//   node bench/live.mjs http://127.0.0.1:PORT ADMIN_TOKEN INSERTS BACKUPS
import { createRequire } from 'node:module';
const require = createRequire(new URL('../tests/clients/package.json', import.meta.url));
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const [base, token, inserts = '30', backups = '3'] = process.argv.slice(2);
const gql = async (query) => {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};
const client = createClient({
  url: base.replace('http', 'ws') + '/graphql',
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
});
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventLatencies(n) {
  const iterator = client.iterate({ query: 'subscription { dataChanged { version tables } }' });
  await iterator.next(); // the current state
  const latencies = [];
  for (let i = 0; i < n; i++) {
    await sleep(400); // past CHANGE_EVENT_INTERVAL_MS, so no event is held back by coalescing
    const id = 800000 + i;
    await gql(`mutation { insertDepartments(rows: [{ id: ${id}, department: "Bench ${id}" }]) { inserted } }`);
    const answered = performance.now();
    const { value } = await iterator.next();
    if (!value.data.dataChanged.tables.includes('DEPARTMENTS')) throw new Error('wrong event');
    latencies.push(performance.now() - answered);
  }
  await iterator.return();
  return latencies;
}

async function followBackup() {
  const started = performance.now();
  const { startBackup } = await gql('mutation { startBackup { id state } }');
  const answered = performance.now() - started;
  const events = [];
  let last;
  for await (const { data } of client.iterate({
    query: `subscription { operation(id: "${startBackup.id}") { state progress { done total } result { ... on BackupSet { totalRows } } } }`,
  })) {
    events.push(performance.now());
    last = data.operation;
  }
  if (last.state !== 'SUCCEEDED') throw new Error(`backup ended ${last.state}`);
  const gaps = events.slice(1).map((t, i) => t - events[i]);
  return { answered, total: events.at(-1) - started, events: events.length, maxGap: Math.max(...gaps), rows: last.result.totalRows, state: startBackup.state };
}

const latencies = await eventLatencies(Number(inserts));
const runs = [];
for (let i = 0; i < Number(backups); i++) runs.push(await followBackup());
await client.dispose();
console.log(JSON.stringify({
  event_ms: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), max: Math.max(...latencies), n: latencies.length },
  backups: runs,
}));
