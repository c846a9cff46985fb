#!/usr/bin/env bash
# Benchmark: live features on PostgreSQL with 1M hires (issue 14).
#   - dataChanged: time from an insert's response to its event at a graphql-ws subscriber
#     (inserts spaced past CHANGE_EVENT_INTERVAL_MS, so coalescing holds nothing back);
#   - startBackup: the mutation's response time, the whole backup followed through the
#     operation(id) subscription, the number of events and the longest gap between two;
#     next to `COPY hired_employees TO STDOUT` (PostgreSQL's floor for reading the table) and
#     the plain CLI backup, in the same run.
# Three backups: median, min and max. After the run: the hires stored and the rollup equal
# to the raw aggregate (check_stored).
#   bench/live.sh
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROWS="${ROWS:-1000000}"
PORT="${PORT:-18614}"
TOKEN=bench-admin-token-0123456789
make_work
build_release
db=ha_bench_live
drop_at_exit="$db"
fresh_db "$db"
generate_import "$db" "$work/data" --hires "$ROWS" --seed 1
psql "$PG_URL/$db" -qc "VACUUM ANALYZE"
hires=$(hires_in "$db")

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f (%.3f–%.3f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
copy_runs=() cli_runs=()
for _ in 1 2 3; do
    read -r s _ < <(measure psql "$PG_URL/$db" -qc "COPY hired_employees TO STDOUT")
    copy_runs+=("$s")
    read -r s _ < <(measure env DATABASE_URL="$PG_URL/$db" "$BIN" backup --backup-url "$work/cli" --progress log)
    cli_runs+=("$s")
done

start_server "$db" ADMIN_TOKEN="$TOKEN" BACKUP_URL="$work/backups"
node bench/live.mjs "http://127.0.0.1:$PORT" "$TOKEN" 30 3 >"$work/live.json"
stop_server

python3 - "$work/live.json" "${copy_runs[*]}" "${cli_runs[*]}" "$hires" <<'PY'
import json, statistics, sys
live = json.load(open(sys.argv[1]))
copy = [float(x) for x in sys.argv[2].split()]
cli = [float(x) for x in sys.argv[3].split()]
runs = live["backups"]
def fig(xs): return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"
e = live["event_ms"]
print(f"hires: {sys.argv[4]}")
print(f"dataChanged after an insert's response, ms: p50 {e['p50']:.1f}, p95 {e['p95']:.1f}, max {e['max']:.1f} ({e['n']} inserts)")
print(f"startBackup response, ms: {fig([r['answered'] for r in runs])}; state at response: {sorted({r['state'] for r in runs})}")
total = [r['total'] / 1000 for r in runs]
print(f"backup followed by subscription, s: {fig(total)}; events {fig([r['events'] for r in runs])}; longest gap between events, ms: {fig([r['maxGap'] for r in runs])}")
print(f"CLI backup (whole process), s: {fig(cli)}")
print(f"COPY hired_employees TO STDOUT, s: {fig(copy)}")
print(f"ratios (median ÷ COPY): operation {statistics.median(total) / statistics.median(copy):.2f}x, CLI {statistics.median(cli) / statistics.median(copy):.2f}x")
print(f"rows in each set: {sorted({r['rows'] for r in runs})}")
PY
check_stored "$PG_URL/$db" -eq "$ROWS"
