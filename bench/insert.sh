#!/usr/bin/env bash
# Benchmark: 1000-row insertHiredEmployees over HTTP on PostgreSQL, at 1 and 4 connections.
# Prints wrk's latency distribution and rows/s, and the server-side p50/p99 from its request log.
# After each level it checks that the rows stored are at least the rows acknowledged so far
# (1000 per request wrk completed) and that the report rollup equals the raw aggregate
# (check_stored: a "check: ok" line, or exit 1).
#
#   bench/insert.sh                      # uses postgres://postgres@127.0.0.1:5432
#   PG_URL=postgres://u@h:5432 bench/insert.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

DB="ha_bench_insert"
PORT="${PORT:-8099}"
DURATION="${DURATION:-20s}"
make_work
build_release
create_db "$DB"
"$BIN" generate --hires 0 --out "$work/data" >/dev/null
import_lookups "$PG_URL/$DB" "$work/data"
start_server "$DB" LOG_FORMAT=json

server_latency() {
    # p50 and p99 of the server's own latency for POST /graphql since line $1 of its log.
    tail -n +"$1" "$work/server.log" | grep '"finished processing request"' | grep '"POST"' \
        | sed -E 's/.*"latency":"([0-9]+) ms".*/\1/' | sort -n \
        | awk '{ v[NR] = $1 } END { if (NR) printf "server p50 %d ms, p99 %d ms over %d requests\n", v[int(NR*0.5)+1], v[int(NR*0.99)+1], NR }'
}

acknowledged=0
for connections in 1 4; do
    start=$(($(wc -l <"$work/server.log") + 1))
    echo "== $connections connection(s), $DURATION"
    ID_BASE=$((connections * 1000000000 / 4)) wrk -t "$connections" -c "$connections" -d "$DURATION" \
        --latency -s bench/insert.lua "http://127.0.0.1:$PORT" | tee "$work/wrk.txt"
    read -r _ _ rps < <(wrk_figures "$work/wrk.txt")
    awk -v r="$rps" 'BEGIN { printf "rows/s: %.0f\n", r * 1000 }'
    server_latency "$start"
    acknowledged=$((acknowledged + $(awk '/ requests in / { print $1 * 1000 }' "$work/wrk.txt")))
    check_stored "$PG_URL/$DB" -ge "$acknowledged"
done
echo "rows stored: $(psql "$PG_URL/$DB" -tAc 'SELECT count(*) FROM hired_employees')"
