// Apollo Client (core, HttpLink and the persisted-queries link) against the
// server at URL (argv[2]): runs the same query twice with automatic persisted
// queries (hash-only GETs), then a query over plain POST. Prints one JSON line
// per HTTP exchange ({"method", "hashOnly", "hasQuery", "status", "codes"}) and
// one per result ({"result": n, "data", "errors"}).
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const url = process.argv[2];
if (!url) {
  console.error('usage: node apollo.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}

// Every HTTP exchange, as the server saw it.
async function loggingFetch(input, init = {}) {
  const method = init.method ?? 'GET';
  const target = new URL(typeof input === 'string' ? input : input.url);
  const body = init.body ? JSON.parse(init.body) : null;
  const query = body ? body.query : target.searchParams.get('query');
  const extensions = body ? body.extensions : JSON.parse(target.searchParams.get('extensions') ?? 'null');
  const response = await fetch(input, init);
  const text = await response.clone().text();
  let codes = [];
  try {
    codes = (JSON.parse(text).errors ?? []).map((e) => e.extensions?.code);
  } catch {}
  console.log(JSON.stringify({
    method,
    hashOnly: !query && !!extensions?.persistedQuery,
    hasQuery: !!query,
    status: response.status,
    codes,
  }));
  return response;
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const http = new HttpLink({ uri: url, fetch: loggingFetch });
const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: true });
const client = new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });

const REPORT = gql`
  query AboveMean($year: Int!) {
    departmentsAboveMean(year: $year) { year mean departments { id department hired } }
  }
`;
let n = 0;
for (const year of [2021, 2021]) {
  const result = await client.query({ query: REPORT, variables: { year }, fetchPolicy: 'network-only' });
  console.log(JSON.stringify({ result: n++, data: result.data ?? null, errors: result.error?.message ?? null }));
}
const plain = new ApolloClient({ link: new HttpLink({ uri: url, fetch: loggingFetch }), cache: new InMemoryCache() });
const lists = await plain.query({ query: gql`{ departments { id department } }` });
console.log(JSON.stringify({ result: n++, data: lists.data ?? null, errors: lists.error?.message ?? null }));
