#!/usr/bin/env bash
# Benchmark: many clients at once on PostgreSQL (issue 12), next to PostgreSQL's own floor on
# the same server in the same run. Prints, each figure the median (min–max) of RUNS runs:
#   - our server: rows/s, p50 and p99 of 1000-row insertHiredEmployees batches at 1, 4 and 16
#     writers (wrk with bench/load.lua OP=insert), and a mixed run of 16 writers plus 16
#     hiresByQuarter report clients (OP=report): writer rows/s, writer and report p50/p99;
#   - the floor: pgbench running the same 1000-row multi-row INSERT (both foreign keys, same
#     primary key and indexes) at 1, 4 and 16 clients: rows/s (tps × 1000), p50 and p99 from
#     pgbench's per-transaction log;
#   - ratios: ours ÷ floor rows/s per client count, our 1-writer p50 ÷ the floor's, 16-writer
#     ÷ 4-writer rows/s, mixed writer ÷ 1-writer rows/s.
# Each run starts from fresh databases seeded with SEED_HIRES generated hires (the same data in
# both). After every measured step it checks that every acknowledged row is stored, that no
# request failed or got a 5xx, and (our database) that the rollup equals the raw aggregate
# (check_stored); any failed check ends the script with exit 1.
#
#   bench/concurrency.sh                       # RUNS=3, DURATION=15s, 100k seeded hires
#   RUNS=1 DURATION=5s bench/concurrency.sh    # a quick look
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

DB="ha_bench_conc"
FLOOR_DB="ha_bench_floor"
PORT="${PORT:-8094}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-15s}"
SECONDS_EACH="${DURATION%s}" # pgbench -T takes whole seconds
SEED_HIRES="${SEED_HIRES:-100000}"
WRITERS="1 4 16"
drop_at_exit="$DB $FLOOR_DB"
make_work
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)" >&2; exit 2; }
command -v pgbench >/dev/null || { echo "pgbench is needed (Debian package postgresql-contrib)" >&2; exit 2; }
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || { echo "DURATION must be whole seconds, like 15s" >&2; exit 2; }
url="http://127.0.0.1:$PORT"

# Records figure $2 = $3 of the current run, for summary.
note() { echo "$1 $3" >>"$work/figures.$2"; }

# Prints figure $1 of all runs as median (min–max), printf format $2.
figure() { cut -d' ' -f2 "$work/figures.$1" | median_range "${2:-%.1f}"; }

# Prints figure $1 of the latest run.
latest() { tail -1 "$work/figures.$1" | cut -d' ' -f2; }

# Notes rows/s, p50 and p99 of the load.lua run in file $2 as figures $1_rows, $1_p50, $1_p99.
note_load() {
    note "$run" "$1_rows" "$(awk -v r="$(load_result "$2" inserted)" -v s="$(load_result "$2" seconds)" \
        'BEGIN { print r / s }')"
    note "$run" "$1_p50" "$(load_result "$2" p50_ms)"
    note "$run" "$1_p99" "$(load_result "$2" p99_ms)"
}

# wrk threads for $1 connections: one per connection, at most two (the machine has 2 cores).
threads() { echo $(($1 < 2 ? $1 : 2)); }

# Fails the script with message $1.
fail() { echo "check failed: $1" >&2; exit 1; }

# The pgbench script: one transaction is one 1000-row multi-row INSERT, the rows laid out as
# bench/load.lua lays out its batches (dates, departments and jobs cycling with the row).
# Ids: pgbench keeps a client's variables from one transaction to the next, so :n (set to 0
# for every client with -D n=0) counts the client's transactions; each client of each step
# (:step, -D) owns a range of 40M ids from 100M on, and transaction n takes its 1000 ids
# from base = range start + n × 1000. Nothing collides and nothing runs on the server beyond
# the INSERT itself (no sequence, no extra statement); the ids are sent as ":base + i",
# constant arithmetic PostgreSQL folds once per row.
write_floor_script() {
    {
        echo '\set n :n + 1'
        echo '\set base 100000000 + (:step * 16 + :client_id) * 40000000 + :n * 1000'
        echo 'INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id) VALUES'
        awk 'BEGIN { for (i = 0; i < 1000; i++)
            printf "(:base + %d, '"'"'Load Hire %d'"'"', '"'"'2022-%02d-%02dT%02d:%02d:00Z'"'"', %d, %d)%s\n",
                i, 100000000 + i, i % 12 + 1, i % 28 + 1, i % 24, i % 60, i % 12 + 1, i % 183 + 1,
                (i < 999 ? "," : ";") }'
    } >"$work/floor.sql"
}

# Fresh databases for one run: ours and the floor's, both migrated by the server binary (same
# primary key, foreign keys and indexes) and seeded with the same generated CSVs.
seed_dbs() {
    local db
    for db in "$DB" "$FLOOR_DB"; do
        fresh_db "$db"
        import_dir "$db" "$work/data"
        psql "$PG_URL/$db" -qc "VACUUM ANALYZE"
    done
}

# Checks our database after a step whose wrk output files are the arguments: no failed
# request, no 5xx (wrk's count and the server log's since line $log_from), every
# acknowledged row stored, the rollup equal to the raw aggregate. Uses $before and $writers.
check_step() {
    local file acknowledged=0 after
    for file in "$@"; do
        load_clean "$file" || fail "$file: $(grep '^RESULT' "$file")"
        acknowledged=$((acknowledged + $(load_result "$file" inserted)))
    done
    [ "$(server_5xx "$log_from")" = 0 ] || fail "5xx answers in the server log"
    after=$(hires_in "$DB")
    lost_rows "$before" "$after" "$acknowledged" "$writers" ||
        fail "hires before $before, acknowledged $acknowledged, after $after: $lost lost"
    check_stored "$PG_URL/$DB" -ge $((before + acknowledged))
}

# Our server, $1 writers for DURATION, ids from $2 on. Notes rows/s, p50, p99 as w$1_*.
writers_step() {
    writers="$1"
    before=$(hires_in "$DB")
    log_from=$(($(wc -l <"$work/server.log") + 1))
    OP=insert ID_BASE="$2" wrk -t "$(threads "$writers")" -c "$writers" -d "$DURATION" \
        --timeout 30s -s bench/load.lua "$url" >"$work/insert.txt" 2>&1
    check_step "$work/insert.txt"
    note_load "w$writers" "$work/insert.txt"
}

# Our server, 16 writers (ids from $1 on) and 16 report clients at once, for DURATION.
mixed_step() {
    writers=16
    before=$(hires_in "$DB")
    log_from=$(($(wc -l <"$work/server.log") + 1))
    OP=insert ID_BASE="$1" wrk -t 1 -c 16 -d "$DURATION" --timeout 30s -s bench/load.lua "$url" \
        >"$work/insert.txt" 2>&1 &
    local inserts=$!
    OP=report wrk -t 1 -c 16 -d "$DURATION" --timeout 30s -s bench/load.lua "$url" \
        >"$work/report.txt" 2>&1 &
    local reports=$!
    wait "$inserts" "$reports"
    check_step "$work/insert.txt" "$work/report.txt"
    note_load mixed "$work/insert.txt"
    note "$run" report_p50 "$(load_result "$work/report.txt" p50_ms)"
    note "$run" report_p99 "$(load_result "$work/report.txt" p99_ms)"
}

# The floor: pgbench with $1 clients for DURATION, id ranges of step $2. Checks that no
# transaction failed and that every committed transaction's 1000 rows are stored; notes
# rows/s (pgbench's tps without connection time × 1000) and p50/p99 (nearest rank over
# every transaction's latency in the per-transaction log) as f$1_*.
floor_step() {
    local clients="$1" before after done_tx
    before=$(hires_in "$FLOOR_DB")
    rm -f "$work"/pgbench_log.*
    pgbench -n -c "$clients" -j "$(threads "$clients")" -T "$SECONDS_EACH" -D n=0 -D step="$2" \
        -f "$work/floor.sql" --log --log-prefix="$work/pgbench_log" "$PG_URL/$FLOOR_DB" \
        >"$work/pgbench.txt" 2>&1 || { cat "$work/pgbench.txt" >&2; fail "pgbench at $clients clients"; }
    done_tx=$(awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }' "$work/pgbench.txt")
    grep -q '^number of failed transactions: 0 ' "$work/pgbench.txt" || fail "pgbench: failed transactions"
    after=$(hires_in "$FLOOR_DB")
    [ "$after" -eq $((before + done_tx * 1000)) ] ||
        fail "floor: $before hires before, $done_tx transactions of 1000 rows, $after after"
    echo "check: ok (floor, $clients clients: $done_tx transactions, all $((done_tx * 1000)) rows stored)"
    note "$run" "f${clients}_rows" "$(awk '/^tps = / { print $3 * 1000 }' "$work/pgbench.txt")"
    cat "$work"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -g >"$work/latencies.txt"
    note "$run" "f${clients}_p50" "$(awk '{ v[NR] = $1 } END { print v[int((NR * 50 + 99) / 100)] }' "$work/latencies.txt")"
    note "$run" "f${clients}_p99" "$(awk '{ v[NR] = $1 } END { print v[int((NR * 99 + 99) / 100)] }' "$work/latencies.txt")"
}

# Notes run $run's ratios, from its own figures.
note_ratios() {
    local n
    ratio() { awk -v a="$(latest "$1")" -v b="$(latest "$2")" 'BEGIN { print a / b }'; }
    for n in $WRITERS; do note "$run" "r_rows$n" "$(ratio "w${n}_rows" "f${n}_rows")"; done
    note "$run" r_p50_1 "$(ratio w1_p50 f1_p50)"
    note "$run" r_scale "$(ratio w16_rows w4_rows)"
    note "$run" r_mixed "$(ratio mixed_rows w1_rows)"
}

# Prints a table headed $2 of rows/s, p50 and p99 (printf format $3) of figures $1<n>_* for
# each client count n.
rate_table() {
    local n
    echo "| $2 | rows/s | p50 ms | p99 ms |"
    echo "|---:|---:|---:|---:|"
    for n in $WRITERS; do
        echo "| $n | $(figure "$1${n}_rows" %n) | $(figure "$1${n}_p50" "$3") | $(figure "$1${n}_p99" "$3") |"
    done
}

print_summary() {
    local n
    echo
    echo "Median (min–max) of $RUNS run(s), $DURATION per step, $SEED_HIRES seeded hires."
    echo
    rate_table w "ours: writers" %.1f
    echo
    echo "| mixed: 16 writers + 16 report clients | |"
    echo "|---|---:|"
    echo "| writer rows/s | $(figure mixed_rows %n) |"
    echo "| writer p50 / p99 ms | $(figure mixed_p50) / $(figure mixed_p99) |"
    echo "| report p50 / p99 ms | $(figure report_p50) / $(figure report_p99) |"
    echo
    rate_table f "floor: pgbench clients" %.2f
    echo
    echo "| ratio | value |"
    echo "|---|---:|"
    for n in $WRITERS; do
        echo "| rows/s, ours ÷ floor, $n client(s) | $(figure "r_rows$n" %.2f) |"
    done
    echo "| p50 at 1 client, ours ÷ floor | $(figure r_p50_1 %.2f) |"
    echo "| rows/s, 16 writers ÷ 4 writers | $(figure r_scale %.2f) |"
    echo "| rows/s, mixed writers ÷ 1 writer | $(figure r_mixed %.2f) |"
}

build_release
"$BIN" generate --hires "$SEED_HIRES" --seed 3 --out "$work/data" >/dev/null
write_floor_script
started=$(date +%s)
for run in $(seq 1 "$RUNS"); do
    echo "== run $run of $RUNS (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    seed_dbs
    start_server "$DB"
    step=0
    for n in $WRITERS; do
        # Each step its own id range: 200M apart, above the seeded hires.
        writers_step "$n" $((100000000 + step * 200000000))
        echo "ours, $n writer(s): $(latest "w${n}_rows") rows/s"
        floor_step "$n" "$step"
        echo "floor, $n client(s): $(latest "f${n}_rows") rows/s"
        step=$((step + 1))
    done
    mixed_step $((100000000 + step * 200000000))
    echo "ours, mixed: $(latest mixed_rows) writer rows/s"
    stop_server
    note_ratios
done
print_summary
echo
echo "total time of the measured runs: $(($(date +%s) - started)) s"
