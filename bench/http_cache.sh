#!/usr/bin/env bash
# Benchmark: what the response cache and the ETags do for reports, over HTTP on PostgreSQL
# with 100k hires, at 16 connections (wrk, DURATION each, RUNS runs interleaved):
#   departments:  `{ departments { id } }`, the cheapest query (the issue's yardstick);
#   report:       the full-year 2021 quarterly report (every column), cache on (default);
#   report_nocache: the same with RESPONSE_CACHE_BYTES=0 (every request computes it);
#   report_304:   the same report sent with the current ETag in If-None-Match (304s).
# Prints requests/s and p50 as median (min-max), and the ratios report ÷ departments; then
# the report's size plain, gzip and brotli. Ends with check_stored (rows, rollup).
#
#   bench/http_cache.sh
#   RUNS=1 DURATION=5s bench/http_cache.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROWS="${ROWS:-100000}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-8096}"
DB=ha_bench_http_cache
make_work
build_release
drop_at_exit="$DB"

DEPARTMENTS='{"query":"{ departments { id } }"}'
REPORT='{"query":"{ hiresByQuarter(year: 2021) { departmentId department jobId job q1 q2 q3 q4 total asOf } }"}'

# Runs wrk with body $2 (and extra header $3, if any) and appends "rps p50_ms" to $work/$1.txt.
measure() {
    local name="$1" body="$2" header="${3:-}"
    QUERY_BODY="$body" EXTRA_HEADER="$header" wrk -t 2 -c 16 -d "$DURATION" --latency \
        -s "$work/ask.lua" "http://127.0.0.1:$PORT" >"$work/wrk.txt"
    read -r p50 _ rps < <(wrk_figures "$work/wrk.txt")
    echo "$rps $(wrk_ms "$p50")" >>"$work/$name.txt"
}


# "median min max" of column $2 of file $1.
stats() {
    cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f %.2f %.2f\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

cat >"$work/ask.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/graphql"
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("EXTRA_HEADER")
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
wrk.body = os.getenv("QUERY_BODY")
local bad = 0
function response(status, headers, body)
  if (status ~= 200 and status ~= 304) or string.find(body, '"errors"') then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("unexpected: " .. status .. " " .. string.sub(body, 1, 200) .. "\n") end
  end
end
LUA

create_db "$DB"
generate_import "$DB" "$work/data" --hires "$ROWS" --seed 1 --from-year 2019 --to-year 2023
psql "$PG_URL/$DB" -qc "VACUUM ANALYZE"
url="http://127.0.0.1:$PORT/graphql"
for _ in $(seq 1 "$RUNS"); do
    start_server "$DB" RUST_LOG=warn
    etag=$(curl -s -o /dev/null -D - "$url" -H 'content-type: application/json' -d "$REPORT" |
        awk -F': ' 'tolower($1) == "etag" { sub(/\r$/, "", $2); print $2 }')
    measure departments "$DEPARTMENTS"
    measure report "$REPORT"
    measure report_304 "$REPORT" "If-None-Match: $etag"
    stop_server
    start_server "$DB" RUST_LOG=warn RESPONSE_CACHE_BYTES=0
    measure report_nocache "$REPORT"
    stop_server
done

printf "%-16s %-28s %s\n" query "requests/s (min-max)" "p50 ms (min-max)"
for name in departments report report_304 report_nocache; do
    read -r rps rps_min rps_max < <(stats "$work/$name.txt" 1)
    read -r p50 p50_min p50_max < <(stats "$work/$name.txt" 2)
    printf "%-16s %-28s %s\n" "$name" "$rps ($rps_min-$rps_max)" "$p50 ($p50_min-$p50_max)"
done
read -r departments _ < <(stats "$work/departments.txt" 1)
for name in report report_304 report_nocache; do
    read -r rps _ < <(stats "$work/$name.txt" 1)
    awk -v a="$rps" -v b="$departments" -v n="$name" 'BEGIN { printf "ratio %s / departments: %.2f\n", n, a / b }'
done

start_server "$DB" RUST_LOG=warn
for encoding in identity gzip br; do
    bytes=$(curl -s "$url" -H 'content-type: application/json' -H "Accept-Encoding: $encoding" \
        -d "$REPORT" | wc -c)
    echo "report bytes, $encoding: $bytes"
done
stop_server
check_stored "$PG_URL/$DB" -eq "$ROWS"
