#!/usr/bin/env bash
# Benchmark: the two reports over HTTP on PostgreSQL at 100k, 1M and 5M hires (a fifth of
# them in 2021), at 1 and 16 connections, next to the same report in plain SQL over the raw
# hires table, measured on the same server in the same run. After each size it checks the
# rows stored and that the seeded database's report rollup equals the raw aggregate
# (check_stored: a "check: ok" line, or exit 1).
#
#   bench/reports.sh
#   SIZES="100000" DURATION=5s bench/reports.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SIZES="${SIZES:-100000 1000000 5000000}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-8097}"
DB=ha_bench_reports
make_work
build_release

QUARTERLY_SQL="SELECT h.department_id, d.department, h.job_id, j.job,
  COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM h.hire_datetime AT TIME ZONE 'UTC') = 1) AS q1,
  COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM h.hire_datetime AT TIME ZONE 'UTC') = 2) AS q2,
  COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM h.hire_datetime AT TIME ZONE 'UTC') = 3) AS q3,
  COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM h.hire_datetime AT TIME ZONE 'UTC') = 4) AS q4,
  COUNT(*) AS total
FROM hired_employees h JOIN departments d ON d.id = h.department_id JOIN jobs j ON j.id = h.job_id
WHERE h.hire_datetime >= '2021-01-01T00:00:00Z' AND h.hire_datetime < '2022-01-01T00:00:00Z'
GROUP BY 1, 2, 3, 4 ORDER BY d.department, j.job"
ABOVE_MEAN_SQL="WITH per AS (SELECT department_id, COUNT(*) AS hired FROM hired_employees
  WHERE hire_datetime >= '2021-01-01T00:00:00Z' AND hire_datetime < '2022-01-01T00:00:00Z'
  GROUP BY department_id)
SELECT d.id, d.department, per.hired FROM per JOIN departments d ON d.id = per.department_id
WHERE per.hired > (SELECT AVG(hired) FROM per) ORDER BY per.hired DESC, d.id"

# Median of 5 timed runs of a query, in ms.
sql_ms() {
    for _ in 1 2 3 4 5; do
        psql "$PG_URL/$DB" -qAt -c '\timing on' -c "$1" | awk '/^Time:/ { print $2 }'
    done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[3] }'
}

printf "%-9s %-22s %5s %10s %10s %12s %12s\n" rows report conns p50_ms p99_ms requests/s plain_sql_ms
for rows in $SIZES; do
    create_db "$DB"
    generate_import "$DB" "$work/data" --hires "$rows" --seed 1 --from-year 2019 --to-year 2023
    psql "$PG_URL/$DB" -qc "VACUUM ANALYZE"
    start_server "$DB" RUST_LOG=warn

    for report in hiresByQuarter departmentsAboveMean; do
        if [ "$report" = hiresByQuarter ]; then
            body='{"query":"{ hiresByQuarter(year: 2021) { departmentId department jobId job q1 q2 q3 q4 total } }"}'
            plain=$(sql_ms "$QUARTERLY_SQL")
        else
            body='{"query":"{ departmentsAboveMean(year: 2021) { mean departments { id department hired } } }"}'
            plain=$(sql_ms "$ABOVE_MEAN_SQL")
        fi
        for conns in 1 16; do
            threads=$(( conns < 2 ? 1 : 2 ))
            QUERY_BODY="$body" wrk -t "$threads" -c "$conns" -d "$DURATION" --latency \
                -s bench/report.lua "http://127.0.0.1:$PORT" >"$work/wrk.txt"
            read -r p50 p99 rps < <(wrk_figures "$work/wrk.txt")
            printf "%-9s %-22s %5s %10s %10s %12s %12s\n" "$rows" "$report" "$conns" "$p50" "$p99" "$rps" "$plain"
        done
    done
    stop_server
    check_stored "$PG_URL/$DB" -eq "$rows"
done
drop_dbs "$DB"
