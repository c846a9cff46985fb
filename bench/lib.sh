# shellcheck shell=bash
# Helpers shared by the bench/*.sh scripts, which source it first:
#   . "$(dirname "$0")/lib.sh"
# Sourcing it moves to the repository root and sets PG_URL (kept when already set) and BIN.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
# Where cargo puts the build: CARGO_TARGET_DIR when set (relative to the repository root, as
# cargo reads it from here), else target/.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$PWD/$TARGET_DIR"
BIN="$TARGET_DIR/release/hiring-analytics"

# Builds the release binary BIN (quiet; nothing to do when it is up to date).
build_release() {
    cargo build --release -q
}

# Creates the temporary work dir $work and sets the exit trap (cleanup) that removes it.
make_work() {
    work="$(mktemp -d)"
    trap cleanup EXIT
}

# Exit trap: stops the server, drops the databases named in $drop_at_exit, removes $work.
cleanup() {
    stop_server
    local dbs
    read -ra dbs <<<"${drop_at_exit:-}"
    if [ "${#dbs[@]}" -gt 0 ]; then drop_dbs "${dbs[@]}" || true; fi
    rm -rf "$work"
}

# Drops database $1 if it exists and creates it again, empty (no schema).
create_db() {
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
}

# create_db $1, then applies the migrations: the full schema with empty tables.
fresh_db() {
    create_db "$1"
    DATABASE_URL="$PG_URL/$1" "$BIN" migrate >/dev/null 2>&1
}

# Drops each database named in the arguments, if it exists.
drop_dbs() {
    local db
    for db in "$@"; do
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null
    done
}

# Generates data into folder $2 (`generate` options from $3 on) and imports all of it into database $1.
generate_import() {
    local db="$1" dir="$2"
    shift 2
    "$BIN" generate "$@" --out "$dir" >/dev/null
    import_dir "$db" "$dir"
}

# Imports every CSV of folder $2 (departments, jobs, hires) with the CLI into database $1.
import_dir() {
    DATABASE_URL="$PG_URL/$1" "$BIN" import --dir "$2" --progress log >/dev/null 2>&1
}

# Prints the number of hires stored in database $1.
hires_in() {
    psql "$PG_URL/$1" -tAc "SELECT count(*) FROM hired_employees"
}

# Imports only departments.csv and jobs.csv of folder $2 with the CLI, into DATABASE_URL $1.
import_lookups() {
    DATABASE_URL="$1" "$BIN" import --departments "$2/departments.csv" --jobs "$2/jobs.csv" \
        --progress log >/dev/null 2>&1
}

# Loads departments.csv and jobs.csv of folder $2 into database $1 with psql's \copy.
copy_lookups() {
    psql "$PG_URL/$1" -qc "\\copy departments FROM '$2/departments.csv' CSV" \
        -c "\\copy jobs FROM '$2/jobs.csv' CSV"
}

# The check that check_stored runs: prints "hires|rollup_rows|mismatches", where mismatches
# counts the cells of the rollup (its non-empty ones) that are not in the aggregate of
# hired_employees per year, department, job and UTC month, plus the cells of the aggregate
# that are not in the rollup (0 = equal).
# $1 and $2 are the UTC year and month of hire_datetime in the database's SQL dialect.
# The rollup is hires_rollup, plus, when $3 is 1, the not yet compacted deltas of
# hires_rollup_delta (same cell columns), summed per cell. When $4 is 1, mismatches also counts
# the rows of the per-department and per-job totals that differ from hires_rollup summed.
rollup_check_sql() {
    local months="m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12" m
    local counts="" sums="" nonzero=""
    for m in 1 2 3 4 5 6 7 8 9 10 11 12; do
        counts="$counts${counts:+, }count(*) FILTER (WHERE month = $m) AS m$m"
        sums="$sums${sums:+, }CAST(sum(m$m) AS BIGINT) AS m$m"
        nonzero="$nonzero${nonzero:+ AND }sum(m$m) = 0"
    done
    local cells="SELECT year, department_id, job_id, $months FROM hires_rollup"
    [ "${3:-0}" = 1 ] && cells="$cells
  UNION ALL SELECT year, department_id, job_id, $months FROM hires_rollup_delta"
    local totals="0" key summed stored
    if [ "${4:-0}" = 1 ]; then
        for key in department job; do
            summed="SELECT year, ${key}_id, $sums FROM hires_rollup GROUP BY 1, 2"
            stored="SELECT year, ${key}_id, $months FROM hires_rollup_$key"
            totals="$totals
  + (SELECT count(*) FROM ($summed EXCEPT $stored) t) + (SELECT count(*) FROM ($stored EXCEPT $summed) t)"
        done
    fi
    cat <<SQL
WITH raw AS (
  SELECT year, department_id, job_id, $counts
  FROM (SELECT $1 AS year, $2 AS month, department_id, job_id FROM hired_employees) h
  GROUP BY 1, 2, 3),
roll AS (SELECT year, department_id, job_id, $sums
  FROM ($cells) c
  GROUP BY 1, 2, 3
  HAVING NOT ($nonzero))
SELECT (SELECT count(*) FROM hired_employees), (SELECT count(*) FROM roll),
  (SELECT count(*) FROM (SELECT * FROM raw EXCEPT SELECT * FROM roll) a)
  + (SELECT count(*) FROM (SELECT * FROM roll EXCEPT SELECT * FROM raw) b)
  + $totals;
SQL
}

# Correctness check after a measured step. Fails the script (exit 1, message on stderr) unless
# the database at URL $1 (postgres://… or sqlite://FILE…) stores a number of hires that is
# `$2 $3` (test's -eq or -ge: "-eq 1000000", "-ge 825000"), and the rollup (hires_rollup, plus
# hires_rollup_delta summed per cell when that table exists) equals the aggregate of
# hired_employees per year, department, job and month, in UTC, and the per-department and
# per-job totals (when they exist) equal hires_rollup summed. Prints one line
# "check: ok (…)". SQLite databases are read with the sqlite3 CLI.
check_stored() {
    local url="$1" op="$2" want="$3" result hires rollup mismatches deltas totals
    case "$url" in
        sqlite:*)
            local file="${url#sqlite:}"
            file="${file#//}"
            file="${file%%\?*}"
            has() { sqlite3 -readonly "$file" \
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '$1'"; }
            deltas=$(has hires_rollup_delta) && totals=$(has hires_rollup_job) &&
            result=$(rollup_check_sql "CAST(strftime('%Y', hire_datetime) AS INTEGER)" \
                "CAST(strftime('%m', hire_datetime) AS INTEGER)" "$deltas" "$totals" \
                | sqlite3 -bail -readonly "$file") ;;
        *)
            has() { psql "$url" -qtAX -v ON_ERROR_STOP=1 \
                -c "SELECT CASE WHEN to_regclass('$1') IS NULL THEN 0 ELSE 1 END"; }
            deltas=$(has hires_rollup_delta) && totals=$(has hires_rollup_job) &&
            result=$(rollup_check_sql "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::int" \
                "EXTRACT(MONTH FROM hire_datetime AT TIME ZONE 'UTC')::int" "$deltas" "$totals" \
                | psql "$url" -qtAX -v ON_ERROR_STOP=1) ;;
    esac || { echo "check failed: could not read $url" >&2; exit 1; }
    IFS='|' read -r hires rollup mismatches <<<"$result"
    local with=""
    [ "$deltas" = 1 ] && with=" (with deltas)"
    [ "$totals" = 1 ] && with="$with (and totals)"
    local says="hires stored: $hires, expected $op $want; rollup cells: $rollup$with, mismatches with the raw aggregate: $mismatches"
    local count_ok=0
    case "$op" in
        -eq) [ "$hires" -eq "$want" ] 2>/dev/null && count_ok=1 ;;
        -ge) [ "$hires" -ge "$want" ] 2>/dev/null && count_ok=1 ;;
        *) echo "check_stored: unknown comparison $op" >&2; exit 2 ;;
    esac
    if [ "$count_ok" != 1 ] || [ "$mismatches" != 0 ]; then
        echo "check failed: $says" >&2
        exit 1
    fi
    echo "check: ok ($says)"
}

# Prints "seconds peak_kb" of a command, from GNU time; its stdout goes to $work/out.txt,
# its stderr (and time's report) to $work/time.txt.
measure() {
    /usr/bin/time -v "$@" >"$work/out.txt" 2>"$work/time.txt"
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; secs = s }
                /Maximum resident set size/ { kb = $2 }
                END { printf "%.2f %d\n", secs, kb }' "$work/time.txt"
}

# Starts the release server on 127.0.0.1:$PORT against database $1 (further VAR=value
# arguments join its environment; stderr to $work/server.log), sets $server, and waits up to
# 10 s for /readyz.
start_server() {
    local db="$1"
    shift
    env DATABASE_URL="$PG_URL/$db" "$@" "$BIN" serve --bind "127.0.0.1:$PORT" 2>"$work/server.log" &
    server=$!
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
}

# Stops the server started by start_server, if any, and waits for it to end.
stop_server() {
    [ -n "${server:-}" ] || return 0
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
}

# Prints "p50 p99 requests/s" from the output of `wrk --latency` in file $1.
wrk_figures() {
    awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } /Requests\/sec/ { rps = $2 }
         END { print p50, p99, rps }' "$1"
}

# wrk's latency $1 ("812.00us", "9.60ms", "1.02s") in milliseconds, to 3 decimals.
wrk_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[^m]s$/) n *= 1000; printf "%.3f", n }'
}

# One connection for $DURATION (`wrk -t1 -c1 --latency` with bench/report.lua) against the
# server on $PORT, posting GraphQL body $2; sets p50 and p99 (in ms) and rps. Fails the script
# (exit 1, wrk's output on stderr, naming $1) on an error, a non-2xx or a socket error.
wrk_one_connection() {
    QUERY_BODY="$2" wrk -t 1 -c 1 -d "$DURATION" --latency -s bench/report.lua \
        "http://127.0.0.1:$PORT" >"$work/wrk.txt" 2>"$work/wrk.err"
    if [ -s "$work/wrk.err" ] || grep -q 'Non-2xx\|Socket errors' "$work/wrk.txt"; then
        cat "$work/wrk.txt" "$work/wrk.err" >&2
        echo "check failed: $1: unexpected answers" >&2
        exit 1
    fi
    read -r p50 p99 rps < <(wrk_figures "$work/wrk.txt")
    p50=$(wrk_ms "$p50")
    p99=$(wrk_ms "$p99")
}

# Prints field $2 (requests, p50_ms, p99_ms, max_ms, errors5xx, failed, inserted,
# socket_errors, seconds) of the RESULT line that bench/load.lua wrote into file $1.
# Fails (exit 1, the file on stderr) when there is no RESULT line.
load_result() {
    local line
    line=$(grep '^RESULT' "$1") || { cat "$1" >&2; echo "no RESULT line in $1" >&2; exit 1; }
    sed -E "s/.* $2=([0-9.]+).*/\1/" <<<"$line"
}

# Succeeds when the load.lua run in file $1 got no 5xx, no failed request, no socket error.
load_clean() {
    [ "$(load_result "$1" errors5xx)" = 0 ] && [ "$(load_result "$1" failed)" = 0 ] &&
        [ "$(load_result "$1" socket_errors)" = 0 ]
}

# Prints the number of 5xx answers in the server log from line $1 (default 1) on.
server_5xx() {
    tail -n +"${1:-1}" "$work/server.log" | grep -c '"status":5\|status=5[0-9][0-9]' || true
}

# The lost-row check after an insert run: $1 hires before, $2 after, $3 rows acknowledged,
# $4 insert connections. Sets $lost (acknowledged rows not stored) and $unacknowledged (rows
# stored from requests still in flight when wrk stopped: committed, never answered; at most
# one 1000-row batch per connection). Succeeds when nothing is lost and that slack is whole
# batches within one per connection.
lost_rows() {
    unacknowledged=$(($2 - $1 - $3))
    lost=0
    [ "$unacknowledged" -lt 0 ] && lost=$((-unacknowledged))
    [ "$lost" = 0 ] && [ "$unacknowledged" -le $(($4 * 1000)) ] && [ $((unacknowledged % 1000)) = 0 ]
}

# Reads numbers (one a line) and prints "median (min–max)" with printf format $1 (default
# %.2f); "%n" groups an integer's thousands with commas (12,345). With an even count the
# median is the lower middle value.
median_range() {
    sort -g | awk -v f="${1:-%.2f}" '
        function fmt(x,   s, r) {
            if (f != "%n") return sprintf(f, x)
            s = sprintf("%.0f", x); r = ""
            while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
            return s r
        }
        { v[NR] = $1 }
        END { if (NR == 0) { print "-"; exit }
              printf "%s (%s–%s)\n", fmt(v[int((NR + 1) / 2)]), fmt(v[1]), fmt(v[NR]) }'
}


# The physical floor of loading the hires CSV $2 into database $1 (freshly migrated, with its
# departments and jobs loaded): the same work as the import's and restore's PostgreSQL fast
# path, and nothing else. It drops hired_employees' keys, foreign keys and indexes (their
# definitions read from the catalog, as the fast path does; a primary key that another table
# references stays), times a bare \copy into the stripped table, then times rebuilding them
# (keys, then indexes, then foreign keys, with the fast path's maintenance_work_mem).
# Sets floor_copy_s, floor_build_s and their sum floor_s; prints a "check: ok" line, or fails
# the script unless every row is stored.
physical_floor() {
    local db="$1" csv="$2"
    psql "$PG_URL/$db" -qtAX -v ON_ERROR_STOP=1 >"$work/floor_ddl.txt" <<'SQL'
WITH con AS (
  SELECT conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint
  WHERE conrelid = 'hired_employees'::regclass AND contype IN ('p', 'u', 'f')
    AND NOT (contype IN ('p', 'u') AND EXISTS (
      SELECT 1 FROM pg_constraint r WHERE r.confrelid = 'hired_employees'::regclass))),
idx AS (
  SELECT indexname, indexdef FROM pg_indexes i
  WHERE schemaname = current_schema() AND tablename = 'hired_employees'
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conrelid = 'hired_employees'::regclass AND c.conname = i.indexname))
SELECT stage || ' ' || stmt FROM (
  SELECT 'drop' AS stage, 0 AS o, format('ALTER TABLE hired_employees DROP CONSTRAINT %I;', conname) AS stmt
    FROM con WHERE contype = 'f'
  UNION ALL SELECT 'drop', 1, format('ALTER TABLE hired_employees DROP CONSTRAINT %I;', conname)
    FROM con WHERE contype <> 'f'
  UNION ALL SELECT 'drop', 2, format('DROP INDEX %I;', indexname) FROM idx
  UNION ALL SELECT 'build', 3, format('ALTER TABLE hired_employees ADD CONSTRAINT %I %s;', conname, def)
    FROM con WHERE contype <> 'f'
  UNION ALL SELECT 'build', 4, indexdef || ';' FROM idx
  UNION ALL SELECT 'build', 5, format('ALTER TABLE hired_employees ADD CONSTRAINT %I %s;', conname, def)
    FROM con WHERE contype = 'f') s
ORDER BY o, stmt;
SQL
    local shape="SELECT (SELECT count(*) FROM pg_constraint WHERE conrelid = 'hired_employees'::regclass)
        || ' constraints, ' || (SELECT count(*) FROM pg_indexes WHERE tablename = 'hired_employees') || ' indexes'"
    local migrated rebuilt want stored
    migrated=$(psql "$PG_URL/$db" -tAc "$shape")
    sed -n 's/^drop //p' "$work/floor_ddl.txt" | psql "$PG_URL/$db" -qX -v ON_ERROR_STOP=1 >/dev/null
    { echo "SET maintenance_work_mem = '512MB';"; sed -n 's/^build //p' "$work/floor_ddl.txt"; } >"$work/floor_build.sql"
    read -r floor_copy_s _ < <(measure psql "$PG_URL/$db" -qX -v ON_ERROR_STOP=1 \
        -c "\\copy hired_employees FROM '$csv' CSV")
    read -r floor_build_s _ < <(measure psql "$PG_URL/$db" -qX -v ON_ERROR_STOP=1 -f "$work/floor_build.sql")
    # shellcheck disable=SC2034 # floor_s is for the caller
    floor_s=$(awk -v a="$floor_copy_s" -v b="$floor_build_s" 'BEGIN { printf "%.2f", a + b }')
    want=$(wc -l <"$csv")
    stored=$(hires_in "$db")
    rebuilt=$(psql "$PG_URL/$db" -tAc "$shape")
    if [ "$stored" != "$want" ] || [ "$rebuilt" != "$migrated" ]; then
        echo "check failed: floor stored $stored hires of $want; $rebuilt rebuilt of $migrated" >&2
        exit 1
    fi
    echo "check: ok (floor: $stored hires stored, $rebuilt rebuilt as migrated)"
}
