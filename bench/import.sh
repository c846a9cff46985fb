#!/usr/bin/env bash
# Benchmark: `hiring-analytics import` against psql's \copy, on the same PostgreSQL server in
# the same run, at 1M and 5M generated hires (valid rows only, since \copy cannot skip bad
# ones), into an empty, migrated (indexed, constrained) schema. Also times the SQLite import,
# and PostgreSQL's physical floor (physical_floor in lib.sh): a bare COPY into the table
# stripped of its keys and indexes, then building them, the work of the import's fast path.
# Prints seconds, rows/s, the speedup over \copy (\copy ÷ ours), our time ÷ the physical
# floor's and peak memory (/usr/bin/time -v). After each
# import it checks the rows stored and that the report rollup equals the raw aggregate
# (check_stored: a "check: ok" line, or exit 1).
#
#   bench/import.sh                 # 1M and 5M
#   SIZES="1000000" bench/import.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SIZES="${SIZES:-1000000 5000000}"
make_work
build_release

printf "%-9s %-28s %9s %12s %8s %9s %10s\n" rows tool seconds rows/s ratio "÷ floor" peak_MB
for rows in $SIZES; do
    data="$work/data-$rows"
    "$BIN" generate --hires "$rows" --seed 1 --out "$data" >/dev/null

    fresh_db ha_bench_copy
    copy_lookups ha_bench_copy "$data"
    read -r copy_s copy_kb < <(measure psql "$PG_URL/ha_bench_copy" -qc \
        "\\copy hired_employees FROM '$data/hired_employees.csv' CSV")

    fresh_db ha_bench_floor
    copy_lookups ha_bench_floor "$data"
    physical_floor ha_bench_floor "$data/hired_employees.csv"

    fresh_db ha_bench_app
    import_lookups "$PG_URL/ha_bench_app" "$data"
    read -r app_s app_kb < <(measure env DATABASE_URL="$PG_URL/ha_bench_app" "$BIN" import \
        --hired-employees "$data/hired_employees.csv" --progress log)
    check_stored "$PG_URL/ha_bench_app" -eq "$rows"

    # A second run of the same file: every row is already stored (the idempotent path).
    read -r again_s again_kb < <(measure env DATABASE_URL="$PG_URL/ha_bench_app" "$BIN" import \
        --hired-employees "$data/hired_employees.csv" --progress log)
    check_stored "$PG_URL/ha_bench_app" -eq "$rows"

    rm -f "$work/bench.db"*
    import_lookups "sqlite://$work/bench.db?mode=rwc" "$data"
    read -r lite_s lite_kb < <(measure env DATABASE_URL="sqlite://$work/bench.db?mode=rwc" "$BIN" import \
        --hired-employees "$data/hired_employees.csv" --progress log)
    check_stored "sqlite://$work/bench.db" -eq "$rows"

    line() { awk -v r="$rows" -v t="$1" -v s="$2" -v c="$copy_s" -v f="$floor_s" -v kb="${3:-0}" \
        'BEGIN { printf "%-9s %-28s %9.2f %12.0f %7.2fx %8.2fx %10.1f\n", r, t, s, r / s, c / s, s / f, kb / 1024 }'; }
    line "floor: bare COPY (PG)" "$floor_copy_s"
    line "floor: build keys (PG)" "$floor_build_s"
    line "floor: COPY + build (PG)" "$floor_s"
    line "psql copy (PostgreSQL)" "$copy_s" "$copy_kb"
    line "import, empty table (PG)" "$app_s" "$app_kb"
    line "import again, unchanged (PG)" "$again_s" "$again_kb"
    line "import, empty table (SQLite)" "$lite_s" "$lite_kb"
done
drop_dbs ha_bench_copy ha_bench_floor ha_bench_app
