#!/usr/bin/env bash
# Benchmark: rendering both charts (PNG and SVG, default 1000x600) over HTTP, one connection,
# on PostgreSQL with 1M generated hires (a fifth in 2021). Prints wrk's p50/p99 per chart.
#
#   bench/charts.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROWS="${ROWS:-1000000}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-8095}"
DB=ha_bench_charts
drop_at_exit="$DB"
make_work
build_release
create_db "$DB"
generate_import "$DB" "$work/data" --hires "$ROWS" --seed 1
start_server "$DB" RUST_LOG=warn

printf "%-28s %-4s %10s %10s %12s\n" chart format p50 p99 requests/s
for chart in hiresByQuarterChart departmentsAboveMeanChart; do
    for format in PNG SVG; do
        body="{\"query\":\"{ $chart(year: 2021, format: $format) { base64 } }\"}"
        QUERY_BODY="$body" wrk -t 1 -c 1 -d "$DURATION" --latency -s bench/report.lua \
            "http://127.0.0.1:$PORT" >"$work/wrk.txt"
        read -r p50 p99 rps < <(wrk_figures "$work/wrk.txt")
        printf "%-28s %-4s %10s %10s %12s\n" "$chart" "$format" "$p50" "$p99" "$rps"
    done
done
