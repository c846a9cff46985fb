#!/usr/bin/env bash
# Benchmark: rendering both charts (PNG and SVG, default 1000x600) over HTTP, one connection,
# on PostgreSQL with 1M generated hires (a fifth in 2021). The response cache is off
# (RESPONSE_CACHE_BYTES=0), so every request draws its chart. Prints wrk's p50, p99 and
# requests/s per chart and format as the median (min–max) of RUNS runs, then checks that
# every chart answered with an image and that the rows are all stored.
#
#   bench/charts.sh                  (RUNS=3 DURATION=5s by default)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-5s}"
PORT="${PORT:-8095}"
DB=ha_bench_charts
drop_at_exit="$DB"
make_work
build_release
create_db "$DB"
generate_import "$DB" "$work/data" --hires "$ROWS" --seed 1
start_server "$DB" RUST_LOG=warn RESPONSE_CACHE_BYTES=0

echo "wrk -t1 -c1 -d $DURATION, $RUNS runs; median (min–max); response cache off"
printf "%-26s %-4s %-22s %-22s %s\n" chart format "p50 ms" "p99 ms" requests/s
for chart in hiresByQuarterChart departmentsAboveMeanChart; do
    for format in PNG SVG; do
        body="{\"query\":\"{ $chart(year: 2021, format: $format) { base64 } }\"}"
        : >"$work/p50"; : >"$work/p99"; : >"$work/rps"
        for _ in $(seq "$RUNS"); do
            wrk_one_connection "$chart $format" "$body"
            echo "$p50" >>"$work/p50"
            echo "$p99" >>"$work/p99"
            echo "$rps" >>"$work/rps"
        done
        printf "%-26s %-4s %-22s %-22s %s\n" "$chart" "$format" "$(median_range <"$work/p50")" \
            "$(median_range <"$work/p99")" "$(median_range '%.1f' <"$work/rps")"
    done
done
stop_server
check_stored "$PG_URL/$DB" -eq "$ROWS"
