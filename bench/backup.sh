#!/usr/bin/env bash
# Benchmark: `hiring-analytics backup` and `restore` on PostgreSQL, next to PostgreSQL's own
# tools on the same server in the same run:
#   - backup  vs `COPY hired_employees TO STDOUT` (psql, output thrown away);
#   - restore vs `\copy hired_employees FROM` the generated CSV into the empty, indexed table,
#     and vs the physical floor (physical_floor in lib.sh): a bare COPY into the table
#     stripped of its keys and indexes, then building them, the work of the restore's fast path.
# The backup writes all three tables to a local folder (zstd Avro, checksummed, manifest);
# the restore reads, verifies and replaces all three tables in one transaction and refreshes
# the report rollup. Prints seconds, hire rows/s, the ratio to PostgreSQL's tool, and peak
# memory (/usr/bin/time -v), and for the restores their time ÷ the physical floor's. Times are
# of the whole process (connecting and checking
# migrations included); op_seconds is the operation's own time from its log line. After each
# restore it checks the rows stored and that the report rollup equals the raw aggregate
# (check_stored: a "check: ok" line, or exit 1).
#
#   bench/backup.sh                 # 1M and 5M
#   SIZES="1000000" bench/backup.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SIZES="${SIZES:-1000000 5000000}"
make_work
build_release

# The operation's own time, from its "finished" log line (without connecting and migrating).
inner() { grep -o 'seconds=[0-9.]*' "$work/time.txt" | tail -1 | cut -d= -f2 | xargs printf "%.2f"; }

row() { # rows tool seconds peak_kb [baseline_seconds] [inner_seconds]
    local ratio="-"
    [ -n "${5:-}" ] && ratio=$(awk -v a="$3" -v b="$5" 'BEGIN { printf "%.2fx", b / a }')
    printf "%-9s %-40s %8s %12s %8s %8d %9s\n" "$1" "$2" "$3" \
        "$(awk -v r="$1" -v s="$3" 'BEGIN { printf "%d", r / s }')" "$ratio" $(($4 / 1024)) "${6:--}"
}

printf "%-9s %-40s %8s %12s %8s %8s %9s\n" rows tool seconds rows/s speedup peak_MB op_seconds
for rows in $SIZES; do
    data="$work/data-$rows"
    db=ha_bench_backup
    fresh_db "$db"
    generate_import "$db" "$data" --hires "$rows" --seed 1
    psql "$PG_URL/$db" -qc "VACUUM ANALYZE"

    read -r copy_s copy_kb < <(measure psql "$PG_URL/$db" -qc "COPY hired_employees TO STDOUT")
    row "$rows" "COPY hired_employees TO STDOUT" "$copy_s" "$copy_kb"
    read -r back_s back_kb < <(measure env DATABASE_URL="$PG_URL/$db" "$BIN" backup \
        --backup-url "$work/backups" --json --progress log)
    id=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$work/out.txt")
    row "$rows" "hiring-analytics backup (all tables)" "$back_s" "$back_kb" "$copy_s" "$(inner)"
    size=$(du -sm "$work/backups/$id" | cut -f1)

    read -r ver_s ver_kb < <(measure "$BIN" verify "$id" --backup-url "$work/backups" --progress log)
    row "$rows" "hiring-analytics verify" "$ver_s" "$ver_kb"

    fresh_db ha_bench_copy
    copy_lookups ha_bench_copy "$data"
    read -r in_s in_kb < <(measure psql "$PG_URL/ha_bench_copy" -qc \
        "\\copy hired_employees FROM '$data/hired_employees.csv' CSV")
    row "$rows" "\\copy FROM (indexed, empty table)" "$in_s" "$in_kb"

    fresh_db ha_bench_floor
    copy_lookups ha_bench_floor "$data"
    physical_floor ha_bench_floor "$data/hired_employees.csv"
    row "$rows" "floor: bare COPY (stripped table)" "$floor_copy_s" 0
    row "$rows" "floor: build keys, indexes, FKs" "$floor_build_s" 0
    row "$rows" "floor: COPY + build" "$floor_s" 0

    read -r res_s res_kb < <(measure env DATABASE_URL="$PG_URL/$db" "$BIN" restore "$id" \
        --backup-url "$work/backups" --progress log)
    check_stored "$PG_URL/$db" -eq "$rows"
    row "$rows" "hiring-analytics restore (replaces all)" "$res_s" "$res_kb" "$in_s" "$(inner)"
    echo "          restore (replaces all) ÷ physical floor: $(awk -v a="$res_s" -v f="$floor_s" 'BEGIN { printf "%.2f", a / f }')"

    fresh_db ha_bench_empty
    read -r empty_s empty_kb < <(measure env DATABASE_URL="$PG_URL/ha_bench_empty" "$BIN" restore "$id" \
        --backup-url "$work/backups" --progress log)
    check_stored "$PG_URL/ha_bench_empty" -eq "$rows"
    row "$rows" "hiring-analytics restore (empty database)" "$empty_s" "$empty_kb" "$in_s" "$(inner)"
    echo "          restore (empty database) ÷ physical floor: $(awk -v a="$empty_s" -v f="$floor_s" 'BEGIN { printf "%.2f", a / f }')"
    echo "          backup set: ${size} MB on disk"
    rm -rf "$work/backups" "$data"
done
drop_dbs ha_bench_backup ha_bench_copy ha_bench_floor ha_bench_empty
