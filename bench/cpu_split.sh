#!/usr/bin/env bash
# Where the CPU goes while writers insert (issue 12): our server against PostgreSQL.
# Seeds 100k hires, then runs 1000-row insertHiredEmployees batches (bench/load.lua OP=insert)
# at 4 and at 16 writers for DURATION each, and prints the CPU time per batch of the server
# process, of wrk, and of the rest of the machine (PostgreSQL, and whatever else runs: run it
# on a quiet machine). Afterwards it checks that every acknowledged row
# is stored and that the rollup (with its deltas) equals the raw aggregate.
#
#   bench/cpu_split.sh                              # DURATION=15s, the server's default pools
#   DATABASE_POOL_SIZE=4 bench/cpu_split.sh         # fewer write connections
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

DB="ha_bench_cpu"
PORT="${PORT:-8097}"
DURATION="${DURATION:-15s}"
drop_at_exit="$DB"
make_work
build_release
"$BIN" generate --hires 100000 --seed 3 --out "$work/data" >/dev/null
fresh_db "$DB"
import_dir "$DB" "$work/data"
psql "$PG_URL/$DB" -qc "VACUUM ANALYZE"
start_server "$DB"

# CPU ticks (1/100 s) used so far by process $1, and by the whole machine.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

acknowledged=0
before=$(hires_in "$DB")
for writers in 4 16; do
    server0=$(ticks "$server")
    machine0=$(machine_ticks)
    OP=insert ID_BASE=$((writers * 100000000)) wrk -t 2 -c "$writers" -d "$DURATION" \
        -s bench/load.lua "http://127.0.0.1:$PORT" >"$work/w$writers.txt" &
    load=$!
    sleep 0.2
    wrk_pid=$(pgrep -n -x wrk)
    wrk_cpu=0
    while kill -0 "$load" 2>/dev/null; do
        wrk_cpu=$(ticks "$wrk_pid")
        sleep 0.5
    done
    wait "$load"
    server_cpu=$(($(ticks "$server") - server0))
    rest_cpu=$(($(machine_ticks) - machine0 - server_cpu - wrk_cpu))
    batches=$(load_result "$work/w$writers.txt" inserted)
    batches=$((batches / 1000))
    acknowledged=$((acknowledged + batches * 1000))
    awk -v w="$writers" -v b="$batches" -v s="$server_cpu" -v k="$wrk_cpu" -v r="$rest_cpu" 'BEGIN {
        printf "%2d writers: %d batches; CPU per batch: server %.1f ms, wrk %.1f ms, rest (PostgreSQL) %.1f ms\n",
            w, b, s * 10 / b, k * 10 / b, r * 10 / b }'
done
check_stored "$PG_URL/$DB" -ge "$((before + acknowledged))"
