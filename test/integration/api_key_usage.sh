#!/usr/bin/env bash
# What requests cost an API key, on a server that preloads iam_ext (rate
# limits need its shared table):
#   - through PostgREST-shaped requests: a metered key's answer says what is
#     left (X-Credits-Remaining); none left is 429; a GET, read-only, is 405;
#     a key over its rate limit gets 429 with Retry-After; a key restored
#     with a limit out of range is refused;
#   - 8 clients spending a key that holds 1,000 credits get exactly 1,000
#     successes, and every other call is refused with 53400;
#   - 8 clients at a refill's boundary refill it once;
#   - under pgbench the rate limit admits, in every whole window, the limit
#     within 1%.
# server options: -c shared_preload_libraries=iam_ext
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_api_key_usage
owner=iam_db_owner
clients=8
source "$here/../lib.sh"
source "$here/../fixtures/postgrest_requests.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

echo "setup: Supabase's roles; Alice's keys, metered by the service role"
create_supabase_database
sql -U "$owner" -d "$db" -o /dev/null -c 'CREATE EXTENSION iam_ext' -f "$here/../fixtures/people.sql" -f - <<'SQL'
CREATE SCHEMA keys;
CREATE TABLE keys.issued (name text PRIMARY KEY, id uuid, api_key text);
INSERT INTO keys.issued
SELECT n, k.id, k.api_key
FROM unnest(ARRAY['metered', 'limited', 'spent_at_once', 'refilled', 'paced', 'restored']) AS n,
     LATERAL iam.create_api_key(n, pg_temp.person('Alice')) AS k;
SELECT iam.set_api_key_credits(id, 2) FROM keys.issued WHERE name = 'metered';
-- A day's window: three requests in a row straddle no boundary (right
-- after one, the previous window's weight falls below the limit at once).
SELECT iam.set_api_key_rate_limit(id, 2, '1 day') FROM keys.issued WHERE name = 'limited';
SELECT iam.set_api_key_credits(id, 1000) FROM keys.issued WHERE name = 'spent_at_once';
-- Empty, with a refill of 50 an hour that fell due an hour ago.
SELECT iam.set_api_key_credits(id, 0, 50, '1 hour') FROM keys.issued WHERE name = 'refilled';
UPDATE iam.api_keys SET refilled_at = now() - interval '2 hours'
WHERE id = (SELECT id FROM keys.issued WHERE name = 'refilled');
SELECT iam.set_api_key_rate_limit(id, 500, '2 seconds') FROM keys.issued WHERE name = 'paced';
-- One call by a client, and its outcome: 'ok' or the SQLSTATE.
CREATE TABLE keys.outcomes (race text, outcome text, at timestamptz);
CREATE FUNCTION keys.try_consume(race text, key_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iam.consume_api_key((SELECT api_key FROM keys.issued WHERE name = key_name));
    INSERT INTO keys.outcomes VALUES (race, 'ok', clock_timestamp());
EXCEPTION WHEN OTHERS THEN
    INSERT INTO keys.outcomes VALUES (race, SQLSTATE, clock_timestamp());
END
$$;
SQL
sql -U "$owner" -d "$db" -f "$here/../fixtures/postgrest.sql"
key() { value -U "$owner" -d "$db" -c "SELECT api_key FROM keys.issued WHERE name = '$1'"; }
# header NAME: the response header NAME ('none' without it).
header() {
    value -v h="${response_headers:-null}" -v n="$1" <<<"SELECT coalesce(CASE jsonb_typeof(:'h'::jsonb)
        WHEN 'array' THEN (SELECT e ->> :'n' FROM jsonb_array_elements(:'h'::jsonb) AS e WHERE e ? :'n' LIMIT 1)
        WHEN 'object' THEN :'h'::jsonb ->> :'n' END, 'none')"
}
check() {  # check WHAT GOT WANT
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then echo "  ok: $1: $2"
    else echo "  FAIL: $1: expected $3, got $2"; failures=$((failures + 1)); fi
}

echo "requests with a metered key, as PostgREST sends them"
metered="{\"x-api-key\":\"$(key metered)\"}"
# Only a read-write transaction spends: POST to a VOLATILE function (or a
# write to a table).
rpc '' "$metered" POST generate_referral_code '{"length": 8}'
expect "POST to a volatile function, with 2 credits" 200
check "... X-Credits-Remaining" "$(header X-Credits-Remaining)" 1
read_table '' "$metered" iam.roles name
expect "GET (read-only) with a metered key" 405 \
    '25006: this API key has credits, and spending them needs a read-write transaction'
rpc '' "$metered" POST current_user_id '{}'
expect "POST to a STABLE function (read-only)" 405 \
    '25006: this API key has credits, and spending them needs a read-write transaction'
rpc '' "$metered" POST generate_referral_code '{"length": 8}'
expect "POST with the last credit" 200
check "... X-Credits-Remaining" "$(header X-Credits-Remaining)" 0
rpc '' "$metered" POST generate_referral_code '{"length": 8}'
expect "POST with none left" 429 '53400: this API key has no credits left'

echo "requests with a rate-limited key (2 a day)"
limited="{\"x-api-key\":\"$(key limited)\"}"
rpc '' "$limited" POST current_user_id '{}'
expect "first request" 200
check "... no credits header" "$(header X-Credits-Remaining)" none
rpc '' "$limited" GET current_user_id '{}'
expect "second request (GET: a limit writes nothing)" 200
rpc '' "$limited" POST current_user_id '{}'
expect "third request" 429 '53400: this API key is over its rate limit of 2 requests per day'
retry=$(header Retry-After)
checks=$((checks + 1))
if [ "$retry" -ge 1 ] && [ "$retry" -le 172800 ]; then echo "  ok: ... Retry-After: $retry"
else echo "  FAIL: ... Retry-After: $retry"; failures=$((failures + 1)); fi

# A row restored past the write rules (triggers off) may hold a window of
# 0: the request is refused, never divided by it.
sql -d "$db" -o /dev/null -c "SET session_replication_role = replica" \
    -c "UPDATE iam.api_keys SET rate_limit = 0, rate_limit_window = '0' WHERE name = 'restored'"
check "a restored key whose rate limit is out of range" \
    "$(value -d "$db" -c "SELECT iam.consume_api_key((SELECT api_key FROM keys.issued WHERE name = 'restored'))" 2>&1 |
       sed -n 's/.*ERROR: *//p')" "this API key's rate limit is out of range"

# race NAME KEY TRANSACTIONS [SECONDS]: $clients pgbench clients call
# keys.try_consume(NAME, KEY), TRANSACTIONS each (or for SECONDS).
race() {
    echo "SELECT keys.try_consume('$1', '$2');" >"$work/$1.sql"
    local amount="-t $3"
    [ -n "${4:-}" ] && amount="-T $4"
    # shellcheck disable=SC2086  # amount is two words for pgbench
    pgbench -n -c "$clients" -j 2 $amount -f "$work/$1.sql" "$db" >"$work/$1.log" 2>&1 ||
        { cat "$work/$1.log"; die "pgbench failed"; }
}
outcomes() {
    value -d "$db" -c "SELECT string_agg(outcome || ' ' || n, ', ' ORDER BY outcome)
                       FROM (SELECT outcome, count(*) AS n FROM keys.outcomes WHERE race = '$1' GROUP BY outcome) AS o"
}

echo "$clients clients spend a key holding 1,000 credits, 200 calls each"
race spend spent_at_once 200
check "outcomes" "$(outcomes spend)" "53400 600, ok 1000"
check "credits left" "$(value -d "$db" -c "SELECT remaining FROM iam.api_keys WHERE name = 'spent_at_once'")" 0

echo "$clients clients at the boundary of a refill of 50, 20 calls each"
race refill refilled 20
check "outcomes" "$(outcomes refill)" "53400 110, ok 50"

echo "$clients clients for 9 s against a limit of 500 requests per 2 s"
race pace paced 0 9
# Each whole window (aligned, as the server counts them, to 2000-01-01 UTC).
per_window=$(value -d "$db" <<'SQL'
WITH windows AS (
    SELECT floor(extract(epoch FROM at - timestamptz '2000-01-01 00:00:00+00') / 2) AS w, count(*) AS admitted
    FROM keys.outcomes WHERE race = 'pace' AND outcome = 'ok' GROUP BY 1),
bounds AS (SELECT min(floor(extract(epoch FROM at - timestamptz '2000-01-01 00:00:00+00') / 2)) AS first,
                  max(floor(extract(epoch FROM at - timestamptz '2000-01-01 00:00:00+00') / 2)) AS last
           FROM keys.outcomes WHERE race = 'pace')
SELECT string_agg(admitted::text, ' ' ORDER BY w) FROM windows, bounds WHERE w > first AND w < last
SQL
)
attempts=$(value -d "$db" -c "SELECT count(*) FROM keys.outcomes WHERE race = 'pace'")
echo "  $attempts calls; admitted per whole window: $per_window"
checks=$((checks + 1))
if [ -n "$per_window" ] && awk -v w="$per_window" 'BEGIN { n = split(w, a, " ");
        for (i = 1; i <= n; i++) if (a[i] < 495 || a[i] > 505) exit 1; exit n < 2 }'; then
    echo "  ok: every whole window admitted 500 within 1%"
else
    echo "  FAIL: admitted per window: $per_window"; failures=$((failures + 1))
fi
check "refused with 53400 only" "$(value -d "$db" -c "SELECT count(*) FROM keys.outcomes WHERE race = 'pace' AND outcome NOT IN ('ok', '53400')")" 0

[ "$failures" -eq 0 ] || { echo "FAIL: $failures of $checks checks"; exit 1; }
echo "PASS: $checks checks: credits exact under 8 clients, refilled once, rate limit within 1% per window, 429s as PostgREST answers them"
