// Runs the GraphQL-over-HTTP spec's own server audit (npm graphql-http) against
// the server at URL (argv[2]) and prints one JSON line per audit:
// {"id", "name", "status": "ok" | "warn" | "error", "reason"?}.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const line = { id: audit.id, name: audit.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    if (result.response) {
      line.httpStatus = result.response.status;
      line.body = await result.response.text().catch(() => '');
    }
  }
  console.log(JSON.stringify(line));
}
