#!/usr/bin/env bash
# Benchmark: rendering both charts (PNG and SVG, default 1000x600) over HTTP, one connection,
# on PostgreSQL with 1M generated hires (a fifth in 2021). Prints wrk's p50/p99 per chart.
#
#   bench/charts.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
ROWS="${ROWS:-1000000}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-8095}"
DB=ha_bench_charts
BIN="$PWD/target/release/hiring-analytics"
work="$(mktemp -d)"
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"; psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true' EXIT

cargo build --release -q
psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" 2>/dev/null
"$BIN" generate --hires "$ROWS" --seed 1 --out "$work/data" >/dev/null
DATABASE_URL="$PG_URL/$DB" "$BIN" import --dir "$work/data" --progress log >/dev/null 2>&1
DATABASE_URL="$PG_URL/$DB" RUST_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done

printf "%-28s %-4s %10s %10s %12s\n" chart format p50 p99 requests/s
for chart in hiresByQuarterChart departmentsAboveMeanChart; do
    for format in PNG SVG; do
        body="{\"query\":\"{ $chart(year: 2021, format: $format) { base64 } }\"}"
        QUERY_BODY="$body" wrk -t 1 -c 1 -d "$DURATION" --latency -s bench/report.lua \
            "http://127.0.0.1:$PORT" >"$work/wrk.txt"
        printf "%-28s %-4s %10s %10s %12s\n" "$chart" "$format" \
            "$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")" \
            "$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")" \
            "$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")"
    done
done
