// The npm graphql-ws client (graphql-transport-ws over `ws`) against the server
// at URL (argv[2]), with its admin token (argv[3]) and API token (argv[4]):
//   1. subscribes to dataChanged, takes the current state, inserts a department
//      and then a hire over HTTP, and waits for an event naming each table;
//   2. starts a backup over HTTP and follows operation(id) until the stream
//      completes;
//   3. subscribes to operation(id) with the API token (refused: FORBIDDEN);
//   4. connects with an unknown token (the socket is closed with 4403).
// Prints one JSON line, {"ok", "checks": [{"check", "ok", "detail"}], ...}, and
// exits 1 when a check failed.
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const [url, adminToken, apiToken] = process.argv.slice(2);
if (!url || !adminToken || !apiToken) {
  console.error('usage: node subscribe.mjs http://127.0.0.1:PORT/graphql ADMIN_TOKEN API_TOKEN');
  process.exit(2);
}
const wsUrl = url.replace(/^http/, 'ws');
const EVENT_TIMEOUT_MS = 15_000;
const OPERATION_TIMEOUT_MS = 60_000;
const TABLES = ['DEPARTMENTS', 'JOBS', 'HIRED_EMPLOYEES'];
const STATE_RANK = { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2 };
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

const summary = { ok: true, checks: [] };

/** Records a check; `detail` explains a failure. */
function check(name, ok, detail) {
  summary.checks.push(ok ? { check: name, ok: true } : { check: name, ok: false, detail });
  if (!ok) summary.ok = false;
  return ok;
}

/** A readable account of whatever a client or fetch threw. */
function describe(err) {
  if (err instanceof Error) return err.message;
  if (Array.isArray(err)) return JSON.stringify(err.map((e) => ({ message: e.message, code: e.extensions?.code })));
  if (err && typeof err.code === 'number') return `socket closed with ${err.code} ${err.reason ?? ''}`.trim();
  if (err?.message) return `socket error: ${err.message}`;
  return JSON.stringify(err);
}

/** Runs one part; whatever it throws is a failed check, and the next part still runs. */
async function part(name, body) {
  try {
    await body();
  } catch (err) {
    check(name, false, describe(err));
  }
}

/** `promise`, or a rejection after `ms` naming `what`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A GraphQL request over HTTP with `token`; throws on any error. */
async function http(token, query, variables = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      accept: 'application/graphql-response+json',
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors) {
    const request = query.replace(/\s+/g, ' ').slice(0, 60);
    throw new Error(`${request}… got HTTP ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  }
  return body.data;
}

/** A graphql-ws client sending `token` in connection_init, and the close codes it saw. */
function connect(token) {
  const closes = [];
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { closed: (event) => closes.push(event?.code) },
  });
  return { client, closes };
}

/** The `data` of a subscription result, throwing its errors. */
function dataOf(result) {
  if (result.errors?.length) throw result.errors;
  return result.data;
}

const admin = connect(adminToken);

await part('dataChanged announces committed changes', async () => {
  const events = [];
  summary.dataChanged = events;
  const changes = admin.client.iterate({ query: 'subscription { dataChanged { asOf tables version } }' });
  const take = async (what) => {
    const step = await within(EVENT_TIMEOUT_MS, what, changes.next());
    if (step.done) throw new Error(`the dataChanged stream ended before ${what}`);
    const change = dataOf(step.value).dataChanged;
    events.push(change);
    return change;
  };
  const awaitChange = async (what, table, previous) => {
    for (;;) {
      const change = await take(what);
      if (change.tables.includes(table) && change.version !== previous.version) return change;
    }
  };

  const first = await take('first dataChanged event');
  check('the first dataChanged event names every table', TABLES.every((t) => first.tables.includes(t)), first);
  check('the first dataChanged event has a version', typeof first.version === 'string' && first.version !== '', first);

  const department = await http(apiToken, 'mutation { insertDepartments(rows: [{ id: 9001, department: "Subscriptions" }]) { inserted } }');
  check('the department insert stored a row', department.insertDepartments.inserted === 1, department);
  const afterDepartment = await awaitChange('dataChanged event naming DEPARTMENTS', 'DEPARTMENTS', first);
  check('a department insert is announced with a new version', afterDepartment.version !== first.version, afterDepartment);

  const hire = await http(
    apiToken,
    'mutation { insertHiredEmployees(rows: [{ id: 99001, name: "Socket Client", hireDatetime: "2021-06-01T12:00:00Z", departmentId: 9001, jobId: 1 }]) { inserted } }',
  );
  check('the hire insert stored a row', hire.insertHiredEmployees.inserted === 1, hire);
  const afterHire = await awaitChange('dataChanged event naming HIRED_EMPLOYEES', 'HIRED_EMPLOYEES', afterDepartment);
  check(
    'a hire insert moves asOf forward',
    afterHire.asOf !== null && (first.asOf === null || Date.parse(afterHire.asOf) > Date.parse(first.asOf)),
    { first, afterHire },
  );
  const { reportsAsOf } = await http(adminToken, '{ reportsAsOf }');
  check('asOf is reportsAsOf', Date.parse(afterHire.asOf) === Date.parse(reportsAsOf), { afterHire, reportsAsOf });
  await changes.return();
});

const OPERATION = `subscription Follow($id: ID!) {
  operation(id: $id) {
    id kind state startedBy cancelRequested finishedAt
    progress { done total unit phase }
    result { __typename ... on BackupSet { id totalRows } }
    error { code message }
  }
}`;

await part('operation(id) follows a backup to its end', async () => {
  const { startBackup: started } = await http(
    adminToken,
    'mutation { startBackup { id kind state startedBy progress { done } } }',
  );
  summary.started = started;
  check('startBackup returns the operation queued or running', ['QUEUED', 'RUNNING'].includes(started.state), started);
  check('startBackup names the admin token as its starter', started.kind === 'BACKUP' && started.startedBy === 'token:admin', started);

  const events = [];
  summary.operation = events;
  await within(OPERATION_TIMEOUT_MS, 'end of the operation stream', (async () => {
    for await (const result of admin.client.iterate({ query: OPERATION, variables: { id: started.id } })) {
      events.push(dataOf(result).operation);
    }
  })());
  if (!check('the operation stream completes after at least one event', events.length >= 1, events)) return;
  const [first, last] = [events[0], events.at(-1)];
  check('every event is the started operation', events.every((e) => e.id === started.id && e.kind === 'BACKUP'), events);
  check(
    'the first event is the current state',
    STATE_RANK[first.state] >= STATE_RANK[started.state] && first.progress.done >= started.progress.done,
    { started, first },
  );
  check(
    'states never go back and only the last is final',
    events.every((e, i) => i === 0 || STATE_RANK[e.state] >= STATE_RANK[events[i - 1].state]) &&
      events.slice(0, -1).every((e) => !TERMINAL.includes(e.state)),
    events.map((e) => e.state),
  );
  check('the last state is SUCCEEDED', last.state === 'SUCCEEDED' && last.error === null && last.finishedAt !== null, last);
  check(
    'progress.done never decreases',
    events.every((e, i) => i === 0 || e.progress.done >= events[i - 1].progress.done),
    events.map((e) => e.progress.done),
  );
  check(
    'progress counts rows or bytes',
    events.every((e) => ['rows', 'bytes'].includes(e.progress.unit)),
    events.map((e) => e.progress.unit),
  );
  check(
    'the result is a BackupSet',
    last.result?.__typename === 'BackupSet' && typeof last.result.id === 'string' && Number.isInteger(last.result.totalRows),
    last.result,
  );
  summary.backup = last.result;

  const { operation, operations } = await http(
    adminToken,
    'query Look($id: ID!) { operation(id: $id) { state result { ... on BackupSet { id } } } operations(first: 1) { edges { node { id } } } }',
    { id: started.id },
  );
  check('operation(id) over HTTP gives the final state', operation?.state === 'SUCCEEDED' && operation.result?.id === last.result?.id, operation);
  check('operations lists the newest first', operations.edges[0]?.node.id === started.id, operations);
});

await part('operation(id) is refused without the admin token', async () => {
  const api = connect(apiToken);
  let codes = [];
  try {
    const refused = api.client.iterate({ query: OPERATION, variables: { id: summary.started?.id ?? 'unknown' } });
    const step = await within(EVENT_TIMEOUT_MS, 'answer to a refused subscription', refused.next());
    codes = (step.value?.errors ?? []).map((e) => e.extensions?.code);
  } catch (err) {
    if (!Array.isArray(err)) throw err;
    codes = err.map((e) => e.extensions?.code);
  } finally {
    await api.client.dispose();
  }
  check('operation(id) with the API token gets FORBIDDEN', codes.includes('FORBIDDEN'), codes);
});

await part('an unknown token closes the socket with 4403', async () => {
  const stranger = connect('not-a-token-of-this-server');
  let thrown = null;
  try {
    const changes = stranger.client.iterate({ query: 'subscription { dataChanged { version } }' });
    const step = await within(EVENT_TIMEOUT_MS, 'close for an unknown token', changes.next());
    thrown = { unexpected: step.value ?? 'stream ended' };
  } catch (err) {
    thrown = err;
  } finally {
    await stranger.client.dispose();
  }
  summary.unknownTokenClose = thrown?.code ?? null;
  check('an unknown token closes the socket with 4403', thrown?.code === 4403, describe(thrown));
});

await admin.client.dispose();
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
