#!/usr/bin/env bash
# Benchmark: what authentication costs per request, over HTTP on SQLite with demo-size data
# (3,000 generated hires, as DEMO=true loads). One release server, configured with
# ANONYMOUS_ROLE=analyst, ADMIN_TOKEN, a TOKENS_FILE of FILE_TOKENS (50) entries and JWT
# (a JWKS document of an RSA 2048, an EC P-256 and an Ed25519 public key; JWT_ISSUER and
# JWT_AUDIENCE set), answers the cheap query `{ departments { id } }` to wrk (-t2 -c16,
# DURATION each, bench/report.lua) for each caller:
#   anonymous     no Authorization header (the floor: no token looked at);
#   admin_token   the static ADMIN_TOKEN;
#   tokens_file   the last entry of TOKENS_FILE (every static token is compared with all
#                 51 digests, ADMIN_TOKEN included, in constant time: where it sits does not matter);
#   jwt_rs256, jwt_es256, jwt_eddsa
#                 JWTs with "role": "analyst" and 1 h expiry, minted by bench/auth_tokens.py
#                 (needs `pip install pyjwt cryptography`).
# `departments` answers carry an ETag but are not kept in the response cache, and wrk sends no
# If-None-Match: every request runs the query. RUNS runs (3), the cases interleaved in each.
# Prints requests/s, p50 and p99 as median (min-max), each case's requests/s ÷ the anonymous
# case's in the same run, and the server process's CPU time per request (user + system from
# /proc, ÷ the requests wrk completed) with its excess over the anonymous case's in the same
# run, all as median (min-max) over the runs.
# After the runs: one curl per caller must get 200 with {"data":{"departments":[ and no
# "errors"; /metrics must show no auth_failures_total increment and no response-cache lookup;
# a JWT with a bad signature must get 401 and count once under reason="signature".
#
#   bench/auth.sh
#   RUNS=1 DURATION=3s bench/auth.sh
#   JWT_KEYS=url bench/auth.sh    # keys from JWT_JWKS_URL (python3 -m http.server on 127.0.0.1)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

HIRES="${HIRES:-3000}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-8091}"
JWKS_PORT="${JWKS_PORT:-8092}"
FILE_TOKENS="${FILE_TOKENS:-50}"
JWT_KEYS="${JWT_KEYS:-file}"
ISSUER=https://idp.bench.example
AUDIENCE=hiring-analytics
ADMIN=bench-admin-token-0123456789
QUERY_BODY='{"query":"{ departments { id } }"}'
CASES=(anonymous admin_token tokens_file jwt_rs256 jwt_es256 jwt_eddsa)

python3 -c 'import jwt, cryptography' 2>/dev/null ||
    { echo "bench/auth.sh needs PyJWT and cryptography: pip install pyjwt cryptography" >&2; exit 2; }
make_work
jwks_server=
stop_jwks() { [ -z "$jwks_server" ] || { kill "$jwks_server" 2>/dev/null || true; wait "$jwks_server" 2>/dev/null || true; }; }
trap 'stop_jwks; cleanup' EXIT
build_release

keys="$work/auth"
python3 bench/auth_tokens.py "$keys" "$ISSUER" "$AUDIENCE" "$FILE_TOKENS"
declare -A TOKEN=(
    [anonymous]=""
    [admin_token]="$ADMIN"
    [tokens_file]="$(cat "$keys/file.token")"
    [jwt_rs256]="$(cat "$keys/rs256.jwt")"
    [jwt_es256]="$(cat "$keys/es256.jwt")"
    [jwt_eddsa]="$(cat "$keys/eddsa.jwt")"
)

db_url="sqlite://$work/auth.db?mode=rwc"
"$BIN" generate --hires "$HIRES" --seed 2021 --out "$work/data" >/dev/null
DATABASE_URL="$db_url" "$BIN" import --dir "$work/data" --progress log >/dev/null 2>&1
check_stored "$db_url" -eq "$HIRES"

case "$JWT_KEYS" in
    file) jwt_keys=(JWT_PUBLIC_KEY_FILE="$keys/jwks.json") ;;
    url)
        python3 -m http.server --bind 127.0.0.1 --directory "$keys" "$JWKS_PORT" >/dev/null 2>&1 &
        jwks_server=$!
        for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$JWKS_PORT/jwks.json" >/dev/null && break; sleep 0.1; done
        jwt_keys=(JWT_JWKS_URL="http://127.0.0.1:$JWKS_PORT/jwks.json") ;;
    *) echo "JWT_KEYS must be file or url" >&2; exit 2 ;;
esac

# start_server's DATABASE_URL (PostgreSQL) is overridden by the later one: env keeps the last.
start_server unused DATABASE_URL="$db_url" RUST_LOG=warn ANONYMOUS_ROLE=analyst \
    ADMIN_TOKEN="$ADMIN" TOKENS_FILE="$keys/tokens.txt" "${jwt_keys[@]}" \
    JWT_ISSUER="$ISSUER" JWT_AUDIENCE="$AUDIENCE"
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null ||
    { cat "$work/server.log" >&2; echo "the server did not start" >&2; exit 1; }
url="http://127.0.0.1:$PORT/graphql"

# Asks `departments { id }` as case $1 with curl; fails the script unless the answer is a 200
# with {"data":{"departments":[ and no "errors".
check_case() {
    local auth=() status body
    [ -z "${TOKEN[$1]}" ] || auth=(-H "Authorization: Bearer ${TOKEN[$1]}")
    status=$(curl -s -o "$work/answer.json" -w '%{http_code}' "$url" \
        -H 'content-type: application/json' "${auth[@]}" -d "$QUERY_BODY")
    body=$(cat "$work/answer.json")
    if [ "$status" != 200 ] || [[ "$body" != '{"data":{"departments":['* ]] || [[ "$body" == *'"errors"'* ]]; then
        echo "check failed: $1 got $status ${body:0:300}" >&2
        exit 1
    fi
}

# Prints the sum of the /metrics samples whose line starts with $1 (a name, or a name and labels).
metric_sum() {
    curl -sf "http://127.0.0.1:$PORT/metrics" |
        awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { printf "%d\n", s }'
}

# CPU time (user + system, in clock ticks) used so far by process $1.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Runs wrk once as case $1; appends "requests/s p50_ms p99_ms requests server_cpu_us_per_request"
# to $work/$1.txt. Fails the script on any unexpected answer, non-2xx response or socket error.
measure_case() {
    local cpu0
    cpu0=$(ticks "$server")
    AUTH_TOKEN="${TOKEN[$1]}" QUERY_BODY="$QUERY_BODY" EXPECT_PREFIX='{"data":{"departments":[' \
        wrk -t 2 -c 16 -d "$DURATION" --latency \
        -s bench/report.lua "http://127.0.0.1:$PORT" >"$work/wrk.txt" 2>"$work/wrk.err"
    cpu=$(($(ticks "$server") - cpu0))
    if [ -s "$work/wrk.err" ] || grep -q 'Non-2xx\|Socket errors' "$work/wrk.txt"; then
        cat "$work/wrk.txt" "$work/wrk.err" >&2
        echo "check failed: $1: unexpected answers in the wrk run" >&2
        exit 1
    fi
    read -r p50 p99 rps < <(wrk_figures "$work/wrk.txt")
    requests=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
    echo "$rps $(wrk_ms "$p50") $(wrk_ms "$p99") $requests $(awk -v t="$cpu" -v u="$TICK_US" -v n="$requests" \
        'BEGIN { printf "%.1f", t * u / n }')" >>"$work/$1.txt"
}


# "median min max" of column $2 of file $1, with printf format $3 (default %.2f).
stats() {
    cut -d' ' -f"$2" "$1" | sort -g | awk -v f="${3:-%.2f}" \
        '{ v[NR] = $1 } END { printf f " " f " " f "\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# Before measuring: every caller is let in (and each code path has run once).
for case in "${CASES[@]}"; do check_case "$case"; done
etag=$(curl -s -o /dev/null -D - "$url" -H 'content-type: application/json' -d "$QUERY_BODY" |
    awk -F': ' 'tolower($1) == "etag" { sub(/\r$/, "", $2); print $2 }')
failures_before=$(metric_sum hiring_analytics_auth_failures_total)
cache_before=$(metric_sum hiring_analytics_response_cache_requests_total)
graphql_before=$(metric_sum hiring_analytics_graphql_requests_total)

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$RUNS"); do
    for case in "${CASES[@]}"; do measure_case "$case"; done
    read -r anonymous_rps _ _ _ anonymous_cpu < <(tail -n 1 "$work/anonymous.txt")
    for case in "${CASES[@]}"; do
        read -r rps _ _ _ cpu < <(tail -n 1 "$work/$case.txt")
        awk -v a="$rps" -v b="$anonymous_rps" -v c="$cpu" -v d="$anonymous_cpu" \
            'BEGIN { printf "%.3f %.1f\n", a / b, c - d }' >>"$work/$case.ratio"
    done
    echo "run $run done; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done

# After the runs: every caller still gets its answer, nothing was refused or cached.
for case in "${CASES[@]}"; do check_case "$case"; done
failures=$(($(metric_sum hiring_analytics_auth_failures_total) - failures_before))
cache=$(($(metric_sum hiring_analytics_response_cache_requests_total) - cache_before))
served=$(($(metric_sum hiring_analytics_graphql_requests_total) - graphql_before))
measured=$(for case in "${CASES[@]}"; do cat "$work/$case.txt"; done | awk '{ s += $4 } END { print s }')
bad_status=$(curl -s -o /dev/null -w '%{http_code}' "$url" -H 'content-type: application/json' \
    -H "Authorization: Bearer $(cat "$keys/bad.jwt")" -d "$QUERY_BODY")
signature=$(metric_sum 'hiring_analytics_auth_failures_total{reason="signature"}')
failures_after_bad=$(($(metric_sum hiring_analytics_auth_failures_total) - failures_before))
stop_server
stop_jwks
jwks_server=

printf "\n%s hires (SQLite), JWT keys from %s, %s static tokens (ADMIN_TOKEN + %s in TOKENS_FILE)\n" \
    "$HIRES" "$JWT_KEYS" $((FILE_TOKENS + 1)) "$FILE_TOKENS"
echo "wrk -t2 -c16 -d $DURATION, $RUNS runs; median (min-max). Per run: ratio = requests/s ÷ anonymous's;"
echo "server CPU = the server process's user + system time ÷ requests; extra = that − anonymous's"
printf "%-12s %-20s %-20s %-20s %-19s %-20s %s\n" case "requests/s" "p50 ms" "p99 ms" "÷ anonymous" \
    "server CPU us/req" "extra us/req"
for case in "${CASES[@]}"; do
    read -r rps rps_min rps_max < <(stats "$work/$case.txt" 1 %.0f)
    read -r p50 p50_min p50_max < <(stats "$work/$case.txt" 2)
    read -r p99 p99_min p99_max < <(stats "$work/$case.txt" 3)
    read -r cpu cpu_min cpu_max < <(stats "$work/$case.txt" 5 %.1f)
    read -r ratio ratio_min ratio_max < <(stats "$work/$case.ratio" 1)
    read -r extra extra_min extra_max < <(stats "$work/$case.ratio" 2 %.1f)
    printf "%-12s %-20s %-20s %-20s %-19s %-20s %s\n" "$case" "$rps ($rps_min-$rps_max)" \
        "$p50 ($p50_min-$p50_max)" "$p99 ($p99_min-$p99_max)" "$ratio ($ratio_min-$ratio_max)" \
        "$cpu ($cpu_min-$cpu_max)" "$extra ($extra_min-$extra_max)"
done
echo "departments answers: ETag ${etag:-none}, sent without If-None-Match; response-cache lookups during the runs: $cache"
echo "GraphQL requests served during the runs: $served (wrk counted $measured completed)"
echo "auth_failures_total increments with the good callers: $failures"
echo "bad JWT (signature from another key): HTTP $bad_status; auth_failures_total{reason=\"signature\"}: $signature, all reasons: $failures_after_bad"
if [ "$failures" != 0 ] || [ "$cache" != 0 ] || [ "$served" -lt "$measured" ] || [ "$bad_status" != 401 ] ||
    [ "$signature" != 1 ] || [ "$failures_after_bad" != 1 ]; then
    echo "check failed" >&2
    exit 1
fi
echo "check: ok (every caller got 200 with data and no errors, before and after the runs; 0 auth failures; the bad JWT got 401)"
