#!/usr/bin/env bash
# Benchmark (issue 16): hiresOverTime over 10 years of months over HTTP, one connection, on
# PostgreSQL with 5M generated hires over 2012–2021, next to the same answer as case (a) in
# plain SQL over the raw hires table, timed with psql in the same run. The response cache is
# off (RESPONSE_CACHE_BYTES=0), so every request computes. Cases:
#   a  granularity: MONTH,   by: DEPARTMENT                       (the issue's target case)
#   b  granularity: MONTH,   by: TOTAL
#   c  granularity: MONTH,   by: DEPARTMENT_AND_JOB, departmentIds: [1, 2]
#   d  granularity: QUARTER, by: JOB
# Each answer is checked once with curl first (200, no "errors", every series with 120 points
# for MONTH or 40 for QUARTER, totals adding up to the hires the raw table holds for it, and
# case a equal to the plain SQL's rows). Prints wrk's p50, p99 and requests/s per case as the
# median (min–max) of RUNS runs, the plain SQL's time, and each p50 ÷ the plain SQL's time of
# the same run; then checks the rows stored and the rollup (check_stored).
#
#   bench/trends.sh                  (ROWS=5000000 RUNS=3 DURATION=5s by default)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROWS="${ROWS:-5000000}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-5s}"
SQL_REPS="${SQL_REPS:-5}"
PORT="${PORT:-8103}"
DB=ha_bench_trends
drop_at_exit="$DB"
make_work
build_release
create_db "$DB"
generate_import "$DB" "$work/data" --hires "$ROWS" --seed 1 --from-year 2012 --to-year 2021
psql "$PG_URL/$DB" -qc "VACUUM ANALYZE"
start_server "$DB" RUST_LOG=warn RESPONSE_CACHE_BYTES=0

RANGE='from: \"2012-01-01T00:00:00Z\", to: \"2022-01-01T00:00:00Z\"'
SELECTION='{ departmentId department jobId job total points { start hires } }'
CASES="a b c d"
declare -A ARGS=(
    [a]="granularity: MONTH, by: DEPARTMENT"
    [b]="granularity: MONTH, by: TOTAL"
    [c]="granularity: MONTH, by: DEPARTMENT_AND_JOB, departmentIds: [1, 2]"
    [d]="granularity: QUARTER, by: JOB"
)
declare -A POINTS=([a]=120 [b]=120 [c]=120 [d]=40)
# Hires the raw table holds for each case over the range (every series' total added up).
IN_RANGE="hire_datetime >= '2012-01-01T00:00:00Z' AND hire_datetime < '2022-01-01T00:00:00Z'"
declare -A WHERE=([a]="$IN_RANGE" [b]="$IN_RANGE" [c]="$IN_RANGE AND department_id IN (1, 2)"
    [d]="$IN_RANGE")

# Case a in plain SQL over the raw table: hires per department per UTC month, with names.
FLOOR_SQL="SELECT h.department_id, d.department,
  date_trunc('month', h.hire_datetime AT TIME ZONE 'UTC') AS month, COUNT(*) AS hires
FROM hired_employees h JOIN departments d ON d.id = h.department_id
WHERE h.$IN_RANGE
GROUP BY 1, 2, 3 ORDER BY d.department COLLATE \"C\", 1, 3"

body_of() {
    echo "{\"query\":\"{ hiresOverTime($RANGE, ${ARGS[$1]}) $SELECTION }\"}"
}

# One time (ms) per line of SQL_REPS runs of the plain SQL, each through psql's \timing.
floor_times() {
    for _ in $(seq "$SQL_REPS"); do
        psql "$PG_URL/$DB" -qAtX -v ON_ERROR_STOP=1 -c '\timing on' -c "$FLOOR_SQL" |
            awk '/^Time:/ { print $2 }'
    done
}

# The answer to each case, once, with curl: fails the script unless it is right.
for c in $CASES; do
    status=$(curl -s -o "$work/answer_$c.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data "$(body_of "$c")" "http://127.0.0.1:$PORT/graphql")
    want=$(psql "$PG_URL/$DB" -qtAX -c "SELECT COUNT(*) FROM hired_employees WHERE ${WHERE[$c]}")
    read -r series bad_points total < <(jq -r --argjson n "${POINTS[$c]}" '.data.hiresOverTime
        | "\(length) \(map(select((.points | length) != $n)) | length) \(map(.total) | add // 0)"' \
        "$work/answer_$c.json" 2>/dev/null || echo "- - -")
    if [ "$status" != 200 ] || grep -q '"errors"' "$work/answer_$c.json" || [ "$series" = - ] ||
        [ "$series" -lt 1 ] || [ "$bad_points" != 0 ] || [ "$total" != "$want" ]; then
        head -c 600 "$work/answer_$c.json" >&2
        echo >&2
        echo "check failed: case $c (${ARGS[$c]}): HTTP $status, $series series, $bad_points without ${POINTS[$c]} points, total $total of $want hires" >&2
        exit 1
    fi
    echo "check: ok (case $c: HTTP 200, $series series of ${POINTS[$c]} points, $total hires, as the raw table)"
done
# Case a's non-empty points against the plain SQL's rows.
jq -r '.data.hiresOverTime[] | .departmentId as $d | .department as $n
    | .points[] | select(.hires > 0) | "\($d)|\($n)|\(.start[0:7])|\(.hires)"' "$work/answer_a.json" \
    >"$work/ours_a.txt"
psql "$PG_URL/$DB" -qAtX -v ON_ERROR_STOP=1 -c "SELECT department_id, department, to_char(month, 'YYYY-MM'), hires
    FROM ($FLOOR_SQL) f" >"$work/floor_a.txt"
if ! diff -q "$work/floor_a.txt" "$work/ours_a.txt" >/dev/null; then
    diff "$work/floor_a.txt" "$work/ours_a.txt" | head -20 >&2
    echo "check failed: case a differs from the plain SQL" >&2
    exit 1
fi
echo "check: ok (case a equals the plain SQL: $(wc -l <"$work/ours_a.txt") department-months, same order)"

for c in $CASES; do : >"$work/p50_$c"; : >"$work/p99_$c"; : >"$work/rps_$c"; : >"$work/ratio_$c"; done
: >"$work/floor"
for run in $(seq "$RUNS"); do
    # The plain SQL first, then each case, so every ratio compares figures of the same run.
    floor_times >"$work/floor_run"
    floor=$(median_range '%.3f' <"$work/floor_run" | cut -d' ' -f1)
    cat "$work/floor_run" >>"$work/floor"
    line="run $run: plain SQL $floor ms"
    for c in $CASES; do
        wrk_one_connection "case $c" "$(body_of "$c")"
        echo "$p50" >>"$work/p50_$c"
        echo "$p99" >>"$work/p99_$c"
        echo "$rps" >>"$work/rps_$c"
        awk -v a="$p50" -v b="$floor" 'BEGIN { printf "%.5f\n", a / b }' >>"$work/ratio_$c"
        line="$line; $c p50 $p50 ms"
    done
    echo "$line"
done

echo "wrk -t1 -c1 -d $DURATION, $RUNS runs; median (min–max); response cache off; $ROWS hires over 2012–2021"
printf 'plain SQL (case a over the raw table, psql \\timing, %s per run): %s ms\n' "$SQL_REPS" \
    "$(median_range <"$work/floor")"
printf "%-2s %-66s %-22s %-22s %-22s %s\n" case query "p50 ms" "p99 ms" requests/s "p50 ÷ plain SQL"
for c in $CASES; do
    printf "%-2s %-66s %-22s %-22s %-22s %s\n" "$c" "${ARGS[$c]}" "$(median_range <"$work/p50_$c")" \
        "$(median_range <"$work/p99_$c")" "$(median_range '%.1f' <"$work/rps_$c")" \
        "$(median_range '%.4f' <"$work/ratio_$c")"
done
stop_server
check_stored "$PG_URL/$DB" -eq "$ROWS"
