#!/usr/bin/env bash
# Benchmark: what nested lookups add to a list, over HTTP on PostgreSQL with 100k hires, at
# 1 connection. Pairs a flat query with the same list selecting its nested lookups:
#   a 50-hire page, flat vs with `department { department } job { job }`;
#   `departments { id }` vs `departments { id department hires(year: 2021) }`.
# Each query runs RUNS times (wrk, DURATION each, pairs interleaved); prints the median p50
# and p99 with their min and max, and the ratio nested/flat of the medians (target: <= 2).
#
#   bench/nested.sh
#   RUNS=1 DURATION=5s bench/nested.sh
#   NESTED_BIN=/path/to/other/hiring-analytics bench/nested.sh   # another build, e.g. main's
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROWS="${ROWS:-100000}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-8098}"
DB=ha_bench_nested
make_work
if [ -n "${NESTED_BIN:-}" ]; then BIN="$NESTED_BIN"; else build_release; fi
drop_at_exit="$DB"

PAGE='hiredEmployees(first: 50) { nodes { id name hireDatetime'
declare -A BODY=(
    [page_flat]="{\"query\":\"{ $PAGE } } }\"}"
    [page_nested]="{\"query\":\"{ $PAGE department { department } job { job } } } }\"}"
    [departments_flat]='{"query":"{ departments { id } }"}'
    [departments_nested]='{"query":"{ departments { id department hires(year: 2021) } }"}'
)

# Runs query $1 once with wrk and appends "p50_ms p99_ms" to $work/$1.txt.
measure_query() {
    QUERY_BODY="${BODY[$1]}" wrk -t 1 -c 1 -d "$DURATION" --latency \
        -s bench/report.lua "http://127.0.0.1:$PORT" >"$work/wrk.txt"
    read -r p50 p99 _ < <(wrk_figures "$work/wrk.txt")
    echo "$(wrk_ms "$p50") $(wrk_ms "$p99")" >>"$work/$1.txt"
}


# "median min max" of column $2 of file $1.
stats() {
    cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f %.2f %.2f\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

create_db "$DB"
generate_import "$DB" "$work/data" --hires "$ROWS" --seed 1 --from-year 2019 --to-year 2023
psql "$PG_URL/$DB" -qc "VACUUM ANALYZE"
start_server "$DB" RUST_LOG=warn
for _ in $(seq 1 "$RUNS"); do
    for query in page_flat page_nested departments_flat departments_nested; do
        measure_query "$query"
    done
done
stop_server
check_stored "$PG_URL/$DB" -eq "$ROWS"

printf "%-20s %-22s %-22s %s\n" query "p50 ms (min-max)" "p99 ms (min-max)" "nested/flat p50, p99"
for list in page departments; do
    for kind in flat nested; do
        read -r p50 p50_min p50_max < <(stats "$work/${list}_$kind.txt" 1)
        read -r p99 p99_min p99_max < <(stats "$work/${list}_$kind.txt" 2)
        ratio=""
        if [ "$kind" = nested ]; then
            ratio=$(awk -v a="$p50" -v b="$flat50" -v c="$p99" -v d="$flat99" \
                'BEGIN { printf "%.2f, %.2f", a / b, c / d }')
        else
            flat50="$p50" flat99="$p99"
        fi
        printf "%-20s %-22s %-22s %s\n" "${list}_$kind" "$p50 ($p50_min-$p50_max)" \
            "$p99 ($p99_min-$p99_max)" "$ratio"
    done
done
