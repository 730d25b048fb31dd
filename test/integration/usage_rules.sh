#!/usr/bin/env bash
# The limits a seller sets on an API key bound every key derived from it,
# and direct writes keep the rules the functions keep, tried the way an
# attacker tries them: PostgREST-shaped requests (a JWT, or an API key in
# the headers) and plain SQL sent in the same session setup, on a server
# that preloads iam_ext (rate limits need its shared table):
#   - a key naming another in replaces_key_id, written by hand, is refused
#     to its owner, to a key that may write keys and to the service role;
#   - a rotation shares its key's rate-limit count, however often it is
#     repeated, and nobody sets under which key a key is counted;
#   - a key with credits, or with a rate limit only, holding
#     iam:api_keys:write, makes no key and rotates no key but itself; its
#     own rotation carries its limit and moves its credits;
#   - an owner cannot move refilled_at into the past (an immediate refill);
#   - a company admin cannot bring a removed member back by PATCH;
#   - a platform admin's or the service role's PATCH of credits, a limit
#     or a membership leaves an audit row;
#   - 8 clients spending a key's credits, and at a refill's boundary, spend
#     exactly and leave no audit row.
# server options: -c shared_preload_libraries=iam_ext
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_usage_rules
owner=iam_db_owner
clients=8
source "$here/../lib.sh"
source "$here/../fixtures/postgrest_requests.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

echo "setup: Supabase's roles; Alice's keys, metered and limited by the service role"
create_supabase_database
sql -U "$owner" -d "$db" -o /dev/null -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION iam_ext' \
    -f "$here/../fixtures/people.sql" -f - <<'SQL'
CREATE SCHEMA keys;
CREATE TABLE keys.issued (name text PRIMARY KEY, id uuid, api_key text);
INSERT INTO keys.issued
SELECT n, k.id, k.api_key
FROM unnest(ARRAY['sold', 'manager', 'meter', 'limited', 'sibling', 'refill', 'granted', 'spent', 'refilled',
                   'rotating']) AS n,
     LATERAL iam.create_api_key(n, pg_temp.person('Alice'),
                                permissions => CASE WHEN n IN ('manager', 'meter', 'limited')
                                                    THEN '["iam:api_keys:write", "courses:read"]'
                                                    ELSE '["courses:read"]' END::jsonb) AS k;
SELECT iam.set_api_key_credits(id, 3) FROM keys.issued WHERE name = 'sold';
SELECT iam.set_api_key_credits(id, 10), iam.set_api_key_rate_limit(id, 100, '1 minute')
FROM keys.issued WHERE name = 'meter';
SELECT iam.set_api_key_rate_limit(id, 100, '1 minute') FROM keys.issued WHERE name = 'limited';
SELECT iam.set_api_key_rate_limit(id, 2, '1 day') FROM keys.issued WHERE name = 'rotating';
-- 2 credits, 99 every 30 days, and no refill yet (refilled_at NULL).
UPDATE iam.api_keys SET remaining = 2, refill_amount = 99, refill_interval = '30 days'
WHERE id = (SELECT id FROM keys.issued WHERE name = 'refill');
SELECT iam.set_api_key_credits(id, 400) FROM keys.issued WHERE name = 'spent';
-- Empty, with a refill of 50 an hour that fell due an hour ago.
SELECT iam.set_api_key_credits(id, 0, 50, '1 hour') FROM keys.issued WHERE name = 'refilled';
UPDATE iam.api_keys SET refilled_at = now() - interval '2 hours'
WHERE id = (SELECT id FROM keys.issued WHERE name = 'refilled');
CREATE TABLE keys.outcomes (race text, outcome text);
CREATE FUNCTION keys.try_consume(race text, key_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iam.consume_api_key((SELECT api_key FROM keys.issued WHERE name = key_name));
    INSERT INTO keys.outcomes VALUES (race, 'ok');
EXCEPTION WHEN OTHERS THEN
    INSERT INTO keys.outcomes VALUES (race, SQLSTATE);
END
$$;
SQL
sql -U "$owner" -d "$db" -o /dev/null -f "$here/../fixtures/postgrest.sql"

jwt_of() { echo "{\"aud\":\"authenticated\",\"role\":\"authenticated\",\"sub\":\"a0000000-0000-4000-8000-0000000000$1\"}"; }
alice=$(jwt_of a1) carol=$(jwt_of a3) pam=$(jwt_of e1)
service='{"role":"service_role"}'
none='{}'
key() { value -U "$owner" -d "$db" -c "SELECT $2 FROM keys.issued WHERE name = '$1'"; }
header() { echo "{\"x-api-key\":\"$(key "$1" api_key)\"}"; }
id_of() { key "$1" id; }
# run JWT HEADERS SQL: a statement sent directly, in a session set up as
# PostgREST sets one up (the same role, claims and db-pre-request).
run() { send "$1" "$2" POST /direct "$(printf '\\o /dev/null\n%s;\n\\o\nSELECT NULL, 0, %s' "$3" "'null'")"; }
as_owner() { value -U "$owner" -d "$db" -c "$1"; }
check() {  # check WHAT GOT WANT
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then echo "  ok: $1: $2"
    else echo "  FAIL: $1: expected $3, got $2"; failures=$((failures + 1)); fi
}
audit_rows() {  # audit_rows ID: the audit rows of key or membership ID so far
    as_owner "SELECT count(*) FROM iam.audit_log WHERE new_row ->> 'id' = '$1' OR target_user_id::text = '$1'"
}

copy_of_sold="INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id, remaining, refilled_at)
SELECT user_id, 'copy', 'CCCCCCCC', 'blake2b256\$1\$forged', id, remaining, refilled_at FROM iam.api_keys WHERE id = '$(id_of sold)'"
echo "B. a key that replaces another is rotate_api_key's alone"
run "$alice" "$none" "$copy_of_sold"
expect "Alice copies her metered key, credits and all" 403 \
    '42501: only iam.rotate_api_key makes a key that replaces another'
run '' "$(header manager)" "$copy_of_sold"
expect "... with her key that may write keys" 401 '42501: only iam.rotate_api_key makes a key that replaces another'
run "$service" "$none" "$copy_of_sold"
expect "... the service role" 403 '42501: only iam.rotate_api_key makes a key that replaces another'
run "$service" "$none" "UPDATE iam.api_keys SET replaces_key_id = '$(id_of sold)' WHERE id = '$(id_of sibling)'"
expect "... linking another key to it afterwards" 403 '42501: only iam.rotate_api_key makes a key that replaces another'
sold=$(header sold)
for n in 1 2 3; do
    rpc '' "$sold" POST generate_referral_code '{"length": 8}'
    expect "a request with the 3-credit key, #$n" 200
done
rpc '' "$sold" POST generate_referral_code '{"length": 8}'
expect "a fourth request" 429 '53400: this API key has no credits left'

echo "B. rotations share one rate-limit count"
rotating=$(header rotating) rotating_id=$(id_of rotating)
for n in 1 2; do
    rpc '' "$rotating" POST current_user_id '{}'
    expect "a request with the key limited to 2 a day, #$n" 200
done
rotate() {  # rotate KEY_ID: Alice rotates it with a grace; sets new_id, new_key
    rpc "$alice" "$none" POST rotate_api_key "{\"key_id\":\"$1\",\"grace\":\"1 hour\"}"
    expect "Alice rotates it with a grace" 200
    new_id=$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'id';")
    new_key="{\"x-api-key\":\"$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'api_key';")\"}"
}
rotate "$rotating_id"
rpc '' "$new_key" POST current_user_id '{}'
expect "... the new key's first request" 429 '53400: this API key is over its rate limit of 2 requests per day'
rpc '' "$rotating" POST current_user_id '{}'
expect "... the old key's third" 429 '53400: this API key is over its rate limit of 2 requests per day'
rpc "$alice" "$none" POST revoke_api_key "{\"key_id\":\"$rotating_id\"}"
expect "Alice revokes the old key" 200
rotate "$new_id"
rpc '' "$new_key" POST current_user_id '{}'
expect "... the third key's first request" 429 '53400: this API key is over its rate limit of 2 requests per day'
run "$service" "$none" "UPDATE iam.api_keys SET rate_limit_key_id = gen_random_uuid() WHERE id = '$new_id'"
expect "the service role gives it a fresh count" 403 \
    "42501: only iam.rotate_api_key says under which key a key's requests are counted"
run "$alice" "$none" "INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, rate_limit_key_id)
    VALUES (iam.current_user_id(), 'counted elsewhere', 'EEEEEEEE', 'blake2b256\$1\$e', '$(id_of sibling)')"
expect "Alice makes a key counted under another's id" 403 \
    "42501: only iam.rotate_api_key says under which key a key's requests are counted"

echo "B. a metered or rate-limited key mints no key"
for name in meter limited; do
    rpc '' "$(header $name)" POST create_api_key '{"name":"free","permissions":["courses:read"]}'
    expect "POST /rpc/create_api_key with the $name key" 401 \
        '42501: a request authenticated by an API key with credits or a rate limit makes no API key'
    run '' "$(header $name)" "INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, permissions)
        VALUES (iam.current_user_id(), 'free', 'DDDDDDDD', 'blake2b256\$1\$direct', '[\"courses:read\"]')"
    expect "... an INSERT" 401 \
        '42501: a request authenticated by an API key with credits or a rate limit makes no API key'
    rpc '' "$(header $name)" POST rotate_api_key "{\"key_id\":\"$(id_of sibling)\"}"
    expect "... rotating an unlimited key of the same owner" 401 \
        '42501: a request authenticated by an API key with credits or a rate limit rotates no API key but itself'
done
rpc '' "$(header manager)" POST create_api_key '{"name":"narrower","permissions":["courses:read"]}'
expect "an unlimited key with the same permission still makes one" 200
rpc '' "$(header meter)" POST rotate_api_key "{\"key_id\":\"$(id_of meter)\",\"grace\":\"1 hour\"}"
expect "the metered key rotates itself with a grace" 200
new_id=$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'id';")
check "... the new key's limit and credits, the old key's credits" \
    "$(as_owner "SELECT string_agg(concat_ws(' ', rate_limit, rate_limit_window, remaining), ', ' ORDER BY id = '$new_id')
                 FROM iam.api_keys WHERE id IN ('$new_id', '$(id_of meter)')")" \
    "100 00:01:00 0, 100 00:01:00 9"

echo "C. refilled_at only later"
long_ago=$(value -c "SELECT (now() - interval '31 days')::text")
patch_table "$alice" "$none" iam.api_keys "{\"refilled_at\":\"$long_ago\"}" id "$(id_of refill)"
expect "PATCH refilled_at 31 days back, from NULL" 403 "42501: an API key's refill period may only start later"
rpc '' "$(header refill)" POST generate_referral_code '{"length": 8}'
expect "a request with the key" 200
check "... credits left (no refill)" "$(as_owner "SELECT remaining FROM iam.api_keys WHERE id = '$(id_of refill)'")" 1

echo "C. a removed member comes back only as add_company_member allows"
remy=a0000000-0000-4000-8000-0000000000a4
patch_table "$carol" "$none" iam.company_users '{"is_active_in_company":true}' user_id "$remy"
expect "Carol, Acme's admin, PATCHes Remy, its removed admin, active" 403 \
    '42501: permission denied to bring back a removed member of company c0000000-0000-4000-8000-00000000000a'
check "... Remy's membership" "$(as_owner "SELECT is_active_in_company FROM iam.company_users WHERE user_id = '$remy'")" f

echo "C. every grant is audited, by any path"
granted=$(id_of granted)
before=$(audit_rows "$granted")
patch_table "$pam" "$none" iam.api_keys '{"remaining":1000}' id "$granted"
expect "Pam (platform_admin) PATCHes 1,000 credits" 200
check "... audited" "$(audit_rows "$granted")" $((before + 1))
check "... as" "$(as_owner "SELECT actor_role || ' ' || actor_user_id || ' ' || (new_row ->> 'remaining')
                            FROM iam.audit_log WHERE new_row ->> 'id' = '$granted' ORDER BY id DESC LIMIT 1")" \
    "authenticated a0000000-0000-4000-8000-0000000000e1 1000"
patch_table "$service" "$none" iam.api_keys '{"rate_limit":1000,"rate_limit_window":"00:01:00"}' id "$granted"
expect "the service role PATCHes a rate limit" 200
check "... audited" "$(audit_rows "$granted")" $((before + 2))
run "$service" "$none" "UPDATE iam.api_keys SET refilled_at = now() - interval '1 day', remaining = 5 WHERE id = '$granted'"
expect "... and credits, by plain SQL" 200
check "... audited" "$(audit_rows "$granted")" $((before + 3))
before=$(audit_rows "$remy")
patch_table "$pam" "$none" iam.company_users '{"is_active_in_company":true}' user_id "$remy"
expect "Pam brings Remy back" 200
check "... audited" "$(as_owner "SELECT action FROM iam.audit_log WHERE target_user_id = '$remy' ORDER BY id DESC LIMIT 1")" \
    member_reactivated

echo "spending, under $clients clients, stays exact and unaudited"
race() {  # race NAME KEY TRANSACTIONS
    echo "SELECT keys.try_consume('$1', '$2');" >"$work/$1.sql"
    pgbench -n -c "$clients" -j 2 -t "$3" -f "$work/$1.sql" "$db" >"$work/$1.log" 2>&1 ||
        { cat "$work/$1.log"; die "pgbench failed"; }
}
outcomes() {
    value -d "$db" -c "SELECT string_agg(outcome || ' ' || n, ', ' ORDER BY outcome)
                       FROM (SELECT outcome, count(*) AS n FROM keys.outcomes WHERE race = '$1' GROUP BY outcome) AS o"
}
spent=$(id_of spent) refilled=$(id_of refilled)
spent_audit=$(audit_rows "$spent") refilled_audit=$(audit_rows "$refilled")
race spend spent 60
check "400 credits, 480 calls" "$(outcomes spend)" "53400 80, ok 400"
check "... no audit row" "$(audit_rows "$spent")" "$spent_audit"
race refill refilled 20
check "a refill of 50 at its boundary, 160 calls" "$(outcomes refill)" "53400 110, ok 50"
check "... no audit row" "$(audit_rows "$refilled")" "$refilled_audit"

[ "$failures" -eq 0 ] || { echo "FAIL: $failures of $checks checks"; exit 1; }
echo "PASS: $checks checks: rotation copies by rotate_api_key only, limited keys mint none, refilled_at only later, reactivation as add_company_member, grants audited, spending exact and unaudited"
