#!/usr/bin/env bash
# Benchmark: `hiring-analytics import` against psql's \copy, on the same PostgreSQL server in
# the same run, at 1M and 5M generated hires (valid rows only, since \copy cannot skip bad
# ones), into an empty, migrated (indexed, constrained) schema. Also times the SQLite import.
# Prints seconds, rows/s, the ratio to \copy and peak memory (/usr/bin/time -v).
#
#   bench/import.sh                 # 1M and 5M
#   SIZES="1000000" bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
SIZES="${SIZES:-1000000 5000000}"
BIN="$PWD/target/release/hiring-analytics"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q

fresh_db() {
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
    DATABASE_URL="$PG_URL/$1" "$BIN" migrate >/dev/null 2>&1
}

# "seconds peak_kb" of a command, from GNU time.
measure() {
    /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; secs = s }
                /Maximum resident set size/ { kb = $2 }
                END { printf "%.2f %d\n", secs, kb }' "$work/time.txt"
}

printf "%-9s %-28s %9s %12s %8s %10s\n" rows tool seconds rows/s ratio peak_MB
for rows in $SIZES; do
    data="$work/data-$rows"
    "$BIN" generate --hires "$rows" --seed 1 --out "$data" >/dev/null

    fresh_db ha_bench_copy
    psql "$PG_URL/ha_bench_copy" -qc "\\copy departments FROM '$data/departments.csv' CSV" \
        -c "\\copy jobs FROM '$data/jobs.csv' CSV"
    read -r copy_s copy_kb < <(measure psql "$PG_URL/ha_bench_copy" -qc \
        "\\copy hired_employees FROM '$data/hired_employees.csv' CSV")

    fresh_db ha_bench_app
    DATABASE_URL="$PG_URL/ha_bench_app" "$BIN" import --departments "$data/departments.csv" \
        --jobs "$data/jobs.csv" --progress log >/dev/null 2>&1
    read -r app_s app_kb < <(measure env DATABASE_URL="$PG_URL/ha_bench_app" "$BIN" import \
        --hired-employees "$data/hired_employees.csv" --progress log)
    stored=$(psql "$PG_URL/ha_bench_app" -tAc "SELECT count(*) FROM hired_employees")
    [ "$stored" = "$rows" ] || { echo "expected $rows rows, found $stored" >&2; exit 1; }

    # A second run of the same file: every row is already stored (the idempotent path).
    read -r again_s again_kb < <(measure env DATABASE_URL="$PG_URL/ha_bench_app" "$BIN" import \
        --hired-employees "$data/hired_employees.csv" --progress log)

    rm -f "$work/bench.db"*
    DATABASE_URL="sqlite://$work/bench.db?mode=rwc" "$BIN" import --departments "$data/departments.csv" \
        --jobs "$data/jobs.csv" --progress log >/dev/null 2>&1
    read -r lite_s lite_kb < <(measure env DATABASE_URL="sqlite://$work/bench.db?mode=rwc" "$BIN" import \
        --hired-employees "$data/hired_employees.csv" --progress log)

    line() { awk -v r="$rows" -v t="$1" -v s="$2" -v c="$copy_s" -v kb="$3" \
        'BEGIN { printf "%-9s %-28s %9.2f %12.0f %7.2fx %10.1f\n", r, t, s, r / s, c / s, kb / 1024 }'; }
    line "psql copy (PostgreSQL)" "$copy_s" "$copy_kb"
    line "import, empty table (PG)" "$app_s" "$app_kb"
    line "import again, unchanged (PG)" "$again_s" "$again_kb"
    line "import, empty table (SQLite)" "$lite_s" "$lite_kb"
done
psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS ha_bench_copy" -c "DROP DATABASE IF EXISTS ha_bench_app" 2>/dev/null
