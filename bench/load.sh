#!/usr/bin/env bash
# Load test on PostgreSQL: 64 connections for 60 s, mixing report queries (32 connections),
# hire listings with nested lookups (16) and 1000-row inserts (16), each mix driven by its
# own wrk so every operation gets its own p50/p99. Afterwards it counts the stored rows
# against the rows the server acknowledged and checks that the report rollup (with its
# pending deltas) equals the raw aggregate: the run fails on any 5xx answer, any failed
# request, any lost row or any rollup mismatch. Prints the server's peak memory (VmHWM).
#
#   bench/load.sh                       # DURATION=60s, 100k seeded hires
#   DURATION=20s SEED_HIRES=10000 bench/load.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

DB="ha_bench_load"
drop_at_exit="$DB"
PORT="${PORT:-8098}"
DURATION="${DURATION:-60s}"
SEED_HIRES="${SEED_HIRES:-100000}"
make_work
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)" >&2; exit 2; }
build_release
create_db "$DB"
generate_import "$DB" "$work/data" --hires "$SEED_HIRES" --seed 3
start_server "$DB" DATABASE_POOL_SIZE=32
before=$(hires_in "$DB")

url="http://127.0.0.1:$PORT"
OP=report wrk -t 2 -c 32 -d "$DURATION" --timeout 30s -s bench/load.lua "$url" >"$work/report.txt" 2>&1 &
reports=$!
OP=list wrk -t 1 -c 16 -d "$DURATION" --timeout 30s -s bench/load.lua "$url" >"$work/list.txt" 2>&1 &
lists=$!
OP=insert wrk -t 1 -c 16 -d "$DURATION" --timeout 30s -s bench/load.lua "$url" >"$work/insert.txt" 2>&1 &
inserts=$!
wait "$reports" "$lists" "$inserts"

peak_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$server/status")
after=$(hires_in "$DB")
server_5xx=$(server_5xx 1)

printf "%-8s %9s %8s %9s %9s %9s %6s %7s %10s\n" op requests req/s p50_ms p99_ms max_ms 5xx failed rows
status=0
acknowledged=0
for op in report list insert; do
    get() { load_result "$work/$op.txt" "$1"; }
    printf "%-8s %9s %8.0f %9s %9s %9s %6s %7s %10s\n" "$op" "$(get requests)" \
        "$(awk -v r="$(get requests)" -v s="$(get seconds)" 'BEGIN { print r / s }')" \
        "$(get p50_ms)" "$(get p99_ms)" "$(get max_ms)" "$(get errors5xx)" "$(get failed)" "$(get inserted)"
    load_clean "$work/$op.txt" || status=1
    acknowledged=$((acknowledged + $(get inserted)))
done
# A lost row is an acknowledged one that is not stored (lost_rows in lib.sh).
lost_rows "$before" "$after" "$acknowledged" 16 || status=1
echo "hires before $before, acknowledged as inserted $acknowledged, after $after: lost $lost" \
    "($unacknowledged stored from requests still in flight when wrk stopped)"
echo "server peak memory: $((peak_kb / 1024)) MB; 5xx in the server log: $server_5xx"
[ "$server_5xx" = 0 ] || status=1
check_stored "$PG_URL/$DB" -ge "$((before + acknowledged))" # exits 1 on a mismatch
echo "load test: $([ "$status" = 0 ] && echo passed || echo FAILED)"
exit "$status"
