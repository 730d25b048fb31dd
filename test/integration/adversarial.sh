#!/usr/bin/env bash
# The adversarial suite: each class of attack docs/security.md says iam_ext
# stops, tried the way hostile clients try it, through PostgREST-shaped
# requests (test/fixtures/postgrest_requests.sh) and through direct SQL in
# the same session setup, as each attacker: anon, a user, a company admin of
# another company, a removed admin, the holders of scoped, revoked and
# rotated keys, and a platform admin. The database is laid out as on
# Supabase: the API roles, authenticator, auth.users written as GoTrue writes
# it, and a database owner who is not a superuser installs the extension.
# The server preloads iam_ext, as docs/security.md advises: the failure
# counters are then one table for every connection, and every session has
# the lock guard.
# server options: -c shared_preload_libraries=iam_ext
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_adversarial
owner=iam_db_owner
source "$here/../lib.sh"
source "$here/../fixtures/postgrest_requests.sh"
trap 'dropdb --if-exists "$db" 2>/dev/null || true' EXIT

echo "setup: Supabase's roles, auth.users and authenticator; a database owner who is not a superuser installs iam_ext"
create_supabase_database
# A low key cap, so that reaching it takes a few keys.
sql -d postgres -c "ALTER DATABASE $db SET iam.max_api_keys_per_owner = 8" -o /dev/null
sql -U "$owner" -d "$db" -o /dev/null -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION iam_ext' \
    -f "$here/../fixtures/people.sql" -f "$here/../fixtures/postgrest.sql"

# The claims PostgREST verified for each of them.
jwt_of() { echo "{\"aud\":\"authenticated\",\"role\":\"authenticated\",\"sub\":\"a0000000-0000-4000-8000-0000000000$1\"}"; }
alice=$(jwt_of a1) vera=$(jwt_of a2) carol=$(jwt_of a3) remy=$(jwt_of a4) olga=$(jwt_of b1)
nina=$(jwt_of d1) gus=$(jwt_of d2) pam=$(jwt_of e1) pat=$(jwt_of e2)
none='{}'

# new_key JWT NAME ARGUMENTS: a key made through POST /rpc/create_api_key;
# sets key_id and key_secret.
new_key() {
    rpc "$1" "$none" POST create_api_key "$2"
    [ "$status" = 200 ] || { echo "  setup: could not create a key ($status $error)"; exit 1; }
    key_id=$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'id';")
    key_secret=$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'api_key';")
}
header() { echo "{\"x-api-key\":\"$1\"}"; }
# run JWT HEADERS SQL: a statement sent directly, in a session set up as
# PostgREST sets one up (the same role, claims and db-pre-request).
# A statement that succeeds answers 200 with the body null.
run() { send "$1" "$2" POST /direct "$(printf '\\o /dev/null\n%s;\n\\o\nSELECT NULL, 0, %s' "$3" "'null'")"; }
tomorrow=$(value -c "SELECT (now() + interval '1 day')::text")

new_key "$alice" "{\"name\":\"scoped\",\"permissions\":[\"courses:read\"]}"
scoped_id=$key_id scoped=$(header "$key_secret")
new_key "$alice" "{\"name\":\"manager\",\"permissions\":[\"courses:read\",\"iam:api_keys:write\"],\"expires_at\":\"$tomorrow\"}"
manager=$(header "$key_secret")
new_key "$alice" '{"name":"to revoke"}'
revoked_id=$key_id revoked=$(header "$key_secret")
new_key "$vera" '{"name":"vera at acme","user_id":"a0000000-0000-4000-8000-0000000000a2","company_id":"c0000000-0000-4000-8000-00000000000a"}'
vera_key_id=$key_id vera_key=$key_secret
new_key "$carol" '{"name":"acme","company_id":"c0000000-0000-4000-8000-00000000000a","user_id":null}'
acme_key_id=$key_id
new_key "$pam" '{"name":"pam scoped","permissions":["courses:read"]}'
pam_scoped=$(header "$key_secret")
new_key "$pat" '{"name":"pat"}'
pat_key_id=$key_id

echo "1. a key is never more than its scope"
patch_table '' "$scoped" iam.api_keys '{"permissions":["*"],"expires_at":null}' id "$scoped_id"
expect "PATCH /api_keys with a courses:read key: widen itself" 401 \
    "42501: this request's API key may not change iam.api_keys"
run '' "$scoped" "UPDATE iam.api_keys SET is_active = true WHERE id = '$revoked_id'"
expect "... direct SQL: switch a revoked key of its owner back on" 401 \
    "42501: this request's API key may not change iam.api_keys"
rpc '' "$scoped" POST create_api_key '{"name":"wide","permissions":["*"]}'
expect "POST /rpc/create_api_key: mint a wider key" 401 "42501: this request's API key may not change iam.api_keys"
rpc '' "$scoped" POST rotate_api_key "{\"key_id\":\"$scoped_id\"}"
expect "POST /rpc/rotate_api_key: a new secret for itself" 401 \
    "42501: this request's API key may not change iam.api_keys"
rpc '' "$pam_scoped" POST grant_role '{"user_id":"a0000000-0000-4000-8000-0000000000a2","role_name":"support_agent"}'
expect "a platform admin's courses:read key: POST /rpc/grant_role" 401 \
    "42501: this request's API key may not change iam.user_roles"
run '' "$pam_scoped" "UPDATE iam.roles SET description = 'x' WHERE name = 'consultant'"
expect "... direct SQL on the role catalogue" 401 "42501: this request's API key may not change iam.roles"
rpc '' "$manager" POST create_api_key '{"name":"wide","permissions":["*"]}'
expect "an iam:api_keys:write key: a wider key" 401 \
    "42501: an API key cannot make or change a key with permissions it does not have"
rpc '' "$manager" POST create_api_key '{"name":"forever","permissions":["courses:read"]}'
expect "... a key that outlives it" 401 "42501: an API key cannot make or change a key that outlives it"
rpc '' "$manager" POST create_api_key "{\"name\":\"narrow\",\"permissions\":[\"courses:read\"],\"expires_at\":\"$tomorrow\"}"
expect "... a key within itself" 200
rpc "$alice" "$none" POST revoke_api_key "{\"key_id\":\"$revoked_id\"}"
expect "the owner revokes a key" 200 true
patch_table "$alice" "$none" iam.api_keys '{"is_active":true}' id "$revoked_id"
expect "PATCH /api_keys: the owner switches it back on" 403 "42501: a revoked API key stays revoked"
rpc '' "$revoked" GET current_user_id '{}'
expect "the revoked key stays refused" 401
patch_table "$alice" "$none" iam.api_keys '{"permissions":["*"]}' id "$scoped_id"
expect "PATCH /api_keys: the owner widens a key" 403 "42501: an API key's permissions can only narrow"
run "$alice" "$none" "UPDATE iam.api_keys SET expires_at = NULL WHERE id = '$scoped_id'"
expect "... direct SQL: no expiry, as it had none" 200
patch_table "$alice" "$none" iam.api_keys "{\"expires_at\":\"$tomorrow\"}" id "$scoped_id"
expect "... an expiry is set: sooner is fine" 200
patch_table "$alice" "$none" iam.api_keys '{"expires_at":"2099-01-01T00:00:00Z"}' id "$scoped_id"
expect "... later is not" 403 "42501: an API key's expiry can only come sooner"

echo "2. a key's secret goes to its owner only; others revoke"
rpc "$carol" "$none" POST rotate_api_key "{\"key_id\":\"$vera_key_id\"}"
expect "Acme's admin rotates a member's personal key that names Acme" 403 \
    "42501: only the key's owner may rotate it"
patch_table "$carol" "$none" iam.api_keys '{"key_prefix":"zzzzzzzz"}' id "$vera_key_id"
expect "... PATCH key_prefix" 403 "42501: only the key's owner may rotate it"
rpc "$pam" "$none" POST rotate_api_key "{\"key_id\":\"$pat_key_id\"}"
expect "a platform admin rotates another platform admin's key" 403 "42501: only the key's owner may rotate it"
rpc "$pam" "$none" POST create_api_key '{"name":"as pat","user_id":"a0000000-0000-4000-8000-0000000000e2"}'
expect "... or makes a key that acts as them" 403 "42501: permission denied to create an API key for another user"
run "$pam" "$none" "INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key) VALUES ('a0000000-0000-4000-8000-0000000000e2', 'as pat', 'pampampa', 'x')"
expect "... direct SQL" 403 '42501: new row violates row-level security policy for table "api_keys"'
rpc "$pam" "$none" POST revoke_api_key "{\"key_id\":\"$pat_key_id\"}"
expect "... but revokes it" 200 true
rpc "$olga" "$none" POST rotate_api_key "{\"key_id\":\"$acme_key_id\"}"
expect "Globex's admin rotates Acme's key" 404
rpc "$remy" "$none" POST rotate_api_key "{\"key_id\":\"$acme_key_id\"}"
expect "a removed admin of Acme rotates Acme's key" 404
rpc "$carol" "$none" POST rotate_api_key "{\"key_id\":\"$acme_key_id\"}"
expect "Acme's admin rotates Acme's own key" 200
rotated_away=$vera_key
rpc "$vera" "$none" POST rotate_api_key "{\"key_id\":\"$vera_key_id\"}"
expect "Vera rotates her own key" 200
vera_key=$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'api_key';")
rpc '' "$(header "$rotated_away")" POST create_api_key '{"name":"from the old secret"}'
expect "the rotated-away secret authenticates nothing" 401 '28000: invalid API key'
audit=$(value -U "$owner" -d "$db" <<SQL
SELECT string_agg(a.action || ' by ' || coalesce(u.full_name, a.actor_role), ', ' ORDER BY a.id)
FROM iam.audit_log AS a LEFT JOIN iam.users AS u ON u.id = a.actor_user_id
WHERE a.action IN ('api_key_rotated', 'api_key_revoked')
SQL
)
checks=$((checks + 1))
if [ "$audit" = "api_key_revoked by Alice, api_key_revoked by Pam, api_key_rotated by Carol, api_key_rotated by Vera" ]; then
    echo "  ok: the audit log names who revoked and rotated: $audit"
else echo "  FAIL: audit of keys: $audit"; failures=$((failures + 1)); fi
creators=$(value -U "$owner" -d "$db" -c "SELECT count(*) FROM iam.api_keys WHERE created_by IS DISTINCT FROM coalesce(user_id, created_by)")
checks=$((checks + 1))
if [ "$creators" = 0 ]; then echo "  ok: every user's key records its user as its creator"
else echo "  FAIL: $creators keys record another creator"; failures=$((failures + 1)); fi

echo "3. the rules of the functions hold for direct SQL"
rpc "$alice" "$none" POST create_referral_code '{}'
alice_code=$(value -v j="$body" <<<"SELECT :'j'::jsonb ->> 'code';")
dashed="${alice_code:0:4}-${alice_code:4}"
rpc "$gus" "$none" POST create_referral_code "{\"code\":\"$dashed\"}"
expect "POST /rpc/create_referral_code: Alice's code with a dash" 400 \
    '22023: this code reads as a generated referral code; choose another'
run "$gus" "$none" "INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000d2', '$dashed')"
expect "... direct SQL" 400 '22023: this code reads as a generated referral code; choose another'
run "$gus" "$none" "INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000d2', lower('$alice_code'))"
expect "... lower case" 400 '22023: this code reads as a generated referral code; choose another'
run "$gus" "$none" "INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000d2', ' gus-invites')"
expect "... a vanity code not as stored" 400 '22023: a referral code is stored as iam.normalize_vanity_code() spells it'
rpc "$gus" "$none" POST create_referral_code '{"code":"GUS-INVITES"}'
expect "Gus's vanity code" 200
run "$pam" "$none" "UPDATE iam.referral_codes SET is_active = false WHERE code = 'GUS-INVITES'"
expect "a platform admin deactivates it" 200
patch_table "$gus" "$none" iam.referral_codes '{"is_active":true}' code GUS-INVITES
expect "PATCH /referral_codes: the owner reactivates it" 403 '42501: only a platform_admin reactivates a referral code'
gus_code_id=$(value -U "$owner" -d "$db" -c "SELECT id FROM iam.referral_codes WHERE code = 'GUS-INVITES'")
alice_code_id=$(value -U "$owner" -d "$db" -c "SELECT id FROM iam.referral_codes WHERE code = '$alice_code'")
run "$nina" "$none" "INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id) VALUES ('a0000000-0000-4000-8000-0000000000d2', 'a0000000-0000-4000-8000-0000000000d1', '$gus_code_id')"
expect "a referral inserted directly with the deactivated code" 400 \
    '22023: a referral needs a code that is active and not expired'
run "$nina" "$none" "INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id) VALUES ('a0000000-0000-4000-8000-0000000000d2', 'a0000000-0000-4000-8000-0000000000d1', '$alice_code_id')"
expect "... with Alice's code credited to Gus" 400 "22023: a referral's referrer is the owner of the code used"
big=$(value -c "SELECT jsonb_agg('courses:read'::text) FROM generate_series(1, 101)")
patch_table "$alice" "$none" iam.api_keys "{\"permissions\":$big}" id "$scoped_id"
expect "PATCH /api_keys: 101 permissions" 400 '22023: an API key has at most 100 permissions'
run "$alice" "$none" "UPDATE iam.api_keys SET permissions = jsonb_build_array(repeat('x', 1000000)) WHERE id = '$scoped_id'"
expect "... direct SQL: a 1 MB permission" 400 '22023: permissions[0] is not a permission'

echo "4. the role catalogue"
patch_table "$pam" "$none" iam.roles '{"name":"retired"}' name support_agent
expect "PATCH /roles: rename support_agent away" 403 '42501: the built-in role "support_agent" keeps its id and name'
patch_table "$pam" "$none" iam.roles '{"name":"support_agent"}' name solo_learner
expect "... rename solo_learner to support_agent" 403 '42501: the built-in role "solo_learner" keeps its id and name'
run "$pam" "$none" "DELETE FROM iam.roles WHERE name = 'platform_admin'"
expect "... delete platform_admin" 403 '42501: permission denied for table roles'
run "$pam" "$none" "INSERT INTO iam.roles (name) VALUES ('mentor')"
expect "a platform admin adds a role" 200
patch_table "$pam" "$none" iam.roles '{"name":"coach"}' name mentor
expect "... and renames it" 200
audit=$(value -U "$owner" -d "$db" -c "SELECT string_agg(action || ' ' || coalesce(new_row ->> 'name', ''), ', ' ORDER BY id) FROM iam.audit_log WHERE action LIKE 'catalog_role_%'")
checks=$((checks + 1))
if [ "$audit" = "catalog_role_created mentor, catalog_role_changed coach" ]; then echo "  ok: both audited: $audit"
else echo "  FAIL: audit of the catalogue: $audit"; failures=$((failures + 1)); fi

echo "weak points"
unknown_code=$(value -d "$db" -c "SELECT iam.generate_referral_code()")
rpc '' "$none" POST redeem_referral_code "{\"code\":\"$alice_code\"}"
expect "anon: a live code" 401 '42501: redeeming a referral code needs a signed-in user'
rpc '' "$none" POST redeem_referral_code "{\"code\":\"$unknown_code\"}"
expect "anon: an unknown code, the same answer" 401 '42501: redeeming a referral code needs a signed-in user'
rpc "$nina" "$none" POST redeem_referral_code "{\"code\":\"$alice_code\"}"
expect "Nina redeems Alice's code" 200
rpc "$nina" "$none" POST redeem_referral_code "{\"code\":\"$alice_code\"}"
expect "a referred user: a live code" 409 '23505: this user was already referred'
rpc "$nina" "$none" POST redeem_referral_code "{\"code\":\"$unknown_code\"}"
expect "a referred user: an unknown code, the same answer" 409 '23505: this user was already referred'
rpc "$gus" "$none" POST redeem_referral_code "{\"code\":\"$unknown_code\"}"
expect "an unknown code" 404 'P0002: no referral code can be redeemed as typed'
run '' "$none" "SELECT iam.redeem_referral_code('GUS-INVITES', 'a0000000-0000-4000-8000-0000000000e2')"
expect "... direct SQL, a deactivated code, for another user" 401 \
    '42501: redeeming a referral code needs a signed-in user'
for i in 2 3 4 5 6 7 8 9 10; do
    rpc "$gus" "$none" POST redeem_referral_code "{\"code\":\"$(value -d "$db" -c "SELECT iam.generate_referral_code()")\"}"
done
expect "the tenth failed guess" 404 'P0002: no referral code can be redeemed as typed'
rpc "$gus" "$none" POST redeem_referral_code "{\"code\":\"$alice_code\"}"
expect "past iam.referral_failures_allowed, even a live code" 429 '53400: too many failed referral code redemptions'
retry=$(value -v h="$response_headers" <<<"SELECT (:'h'::jsonb ->> 'Retry-After')::int BETWEEN 3500 AND 3600;")
checks=$((checks + 1))
if [ "$retry" = t ]; then echo "  ok: with Retry-After: $response_headers"
else echo "  FAIL: Retry-After: $response_headers"; failures=$((failures + 1)); fi

# A role check reused by a PL/pgSQL loop in one READ COMMITTED transaction
# sees a revocation another session commits between two of its statements.
sql -U "$owner" -d "$db" -o /dev/null <<'SQL'
CREATE FUNCTION public.watch_role(user_id uuid, pause float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text := '';
BEGIN
    FOR i IN 1..2 LOOP
        seen := seen || iam.has_role(user_id, 'course_creator')::text || ' ';
        PERFORM pg_sleep(pause);
    END LOOP;
    RETURN seen;
END
$$;
SELECT iam.grant_role('a0000000-0000-4000-8000-0000000000a2', 'course_creator');
SQL
value -U "$owner" -d "$db" -c "SELECT public.watch_role('a0000000-0000-4000-8000-0000000000a2', 2)" >"$PGHOST/watch.out" &
watcher=$!
sleep 1
value -U "$owner" -d "$db" -c "SELECT iam.revoke_role('a0000000-0000-4000-8000-0000000000a2', 'course_creator')" >/dev/null
wait $watcher
checks=$((checks + 1))
if [ "$(cat "$PGHOST/watch.out")" = "true false " ]; then
    echo "  ok: a revocation committed meanwhile is seen by the loop's next statement"
else echo "  FAIL: the loop saw: $(cat "$PGHOST/watch.out")"; failures=$((failures + 1)); fi

# An = planted ahead of pg_catalog in the caller's path never runs inside
# the extension's statements.
ran=$(value -d "$db" <<SQL
CREATE SCHEMA planted;
CREATE TABLE planted.calls (n int);
CREATE FUNCTION planted.uuid_eq(a uuid, b uuid) RETURNS boolean LANGUAGE sql AS
    'INSERT INTO planted.calls VALUES (1) RETURNING a OPERATOR(pg_catalog.=) b';
CREATE OPERATOR planted.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = planted.uuid_eq);
SET search_path = planted, pg_catalog, public;
SELECT FROM iam.rotate_api_key('$acme_key_id');
SELECT FROM iam.create_api_key('planted', 'a0000000-0000-4000-8000-0000000000d1');
RESET search_path;
SELECT count(*) FROM planted.calls;
SQL
)
checks=$((checks + 1))
if [ "$ran" = 0 ]; then echo "  ok: a planted = operator ran 0 times in rotate_api_key and create_api_key"
else echo "  FAIL: a planted = operator ran $ran times"; failures=$((failures + 1)); fi

# A removed member's personal key no longer reports the company.
rpc "$carol" "$none" POST remove_company_member '{"company_id":"c0000000-0000-4000-8000-00000000000a","user_id":"a0000000-0000-4000-8000-0000000000a2"}'
expect "Acme's admin removes Vera" 200 true
company=$(value -d "$db" -c "SELECT coalesce(company_id::text, 'none') FROM iam.verify_api_key('$vera_key')")
checks=$((checks + 1))
if [ "$company" = none ]; then echo "  ok: her personal key no longer reports Acme"
else echo "  FAIL: her personal key reports company $company"; failures=$((failures + 1)); fi

# The key cap (8 here): Olga has none; the ninth is refused.
for i in 1 2 3 4 5 6 7 8; do rpc "$olga" "$none" POST create_api_key "{\"name\":\"k$i\"}"; done
expect "Olga's eighth key" 200
rpc "$olga" "$none" POST create_api_key '{"name":"k9"}'
expect "... the ninth" 429 "53400: the key's owner has 8 API keys active or created in the last day, the most allowed"

# The failure limit holds exactly when one user guesses from many sessions at
# once. Fay has failed 9 times; 8 of her sessions then guess together while
# the code table is locked, so that any guess let through waits inside the
# redemption. Exactly one may pass (the tenth failure); the other 7 are
# refused (53400) at once, before any code is read.
sql -d "$db" -o /dev/null -c "INSERT INTO iam.users (id, email) VALUES ('a0000000-0000-4000-8000-0000000000f1', 'fay@example.test')"
guess_as_fay() {  # guess_as_fay COUNT: prints "reached N refused M"
    value -d "$db" -v n="$1" <<'SQL'
SET request.jwt.claims = '{"role": "authenticated", "sub": "a0000000-0000-4000-8000-0000000000f1"}';
SET ROLE authenticated;
SELECT set_config('fay.guesses', :'n', false) \g /dev/null
DO $$
DECLARE
    reached int := 0;
    refused int := 0;
BEGIN
    FOR i IN 1..current_setting('fay.guesses')::int LOOP
        BEGIN
            PERFORM iam.redeem_referral_code(iam.generate_referral_code());
        EXCEPTION WHEN no_data_found THEN reached := reached + 1;
                  WHEN SQLSTATE '53400' THEN refused := refused + 1;
        END;
    END LOOP;
    RAISE NOTICE 'reached % refused %', reached, refused;
END
$$;
SQL
}
guess_as_fay 9 >/dev/null 2>&1
gate=$(mktemp -u /tmp/iam_ext_gate.XXXXXX)
mkfifo "$gate"
sql -d "$db" -o /dev/null -c "BEGIN" -c "LOCK TABLE iam.referral_codes IN ACCESS EXCLUSIVE MODE" \
    -c "\\! cat $gate >/dev/null" -c "COMMIT" &
holder=$!
locked() { value -d "$db" -c "SELECT count(*) FROM pg_locks WHERE relation = 'iam.referral_codes'::regclass AND $1"; }
until [ "$(locked granted)" = 1 ]; do sleep 0.1; done
guessers=()
for session in 1 2 3 4 5 6 7 8; do
    guess_as_fay 1 >"$gate.$session" 2>&1 &
    guessers+=($!)
done
# Every session has either answered or is waiting inside a redemption.
for _ in $(seq 100); do
    answered=$(cat "$gate".? | grep -c 'reached' || true)
    [ $((answered + $(locked "NOT granted"))) -ge 8 ] && break
    sleep 0.1
done
echo >"$gate"
wait "${guessers[@]}" "$holder"
totals=$(cat "$gate".? | sed -n 's/.*reached \([0-9]*\) refused \([0-9]*\).*/\1 \2/p' |
         awk '{ r += $1; f += $2 } END { print r + 0, f + 0 }')
rm -f "$gate" "$gate".?
checks=$((checks + 1))
if [ "$totals" = "1 7" ]; then echo "  ok: 8 sessions guessing at once after 9 failures: 1 reached the table, 7 were refused"
else echo "  FAIL: 8 sessions guessing at once after 9 failures: reached and refused $totals, expected 1 7"; failures=$((failures + 1)); fi

# LOCK TABLE, which would stall every role check.
for table in roles users user_roles companies company_users user_settings api_keys referral_codes referrals; do
    run "$alice" "$none" "LOCK TABLE iam.$table IN ACCESS EXCLUSIVE MODE"
    [ "$status" = 403 ] || expect "LOCK TABLE iam.$table as a user" 403
done
expect "LOCK TABLE on each of iam's tables as a user" 403
# What a LOCK reaches counts, not what it names: PostgreSQL locks a view's
# relations too, checking the view owner's privileges, so a user's own
# temporary view over iam.user_roles would lock the table with the user's
# DELETE. Views over views, CTEs and sublinks reach it as well.
refused_lock="42501: permission denied to lock iam.user_roles in this mode"
run "$alice" "$none" "CREATE TEMP VIEW mine AS SELECT * FROM iam.user_roles; LOCK mine IN ACCESS EXCLUSIVE MODE"
expect "LOCK on a temporary view over iam.user_roles as a user" 403 "$refused_lock"
run '' "$none" "CREATE TEMP VIEW mine AS SELECT * FROM iam.user_roles; LOCK mine IN ACCESS EXCLUSIVE MODE"
expect "... as anon" 401 "$refused_lock"
run "$alice" "$none" "CREATE TEMP VIEW inner_view AS SELECT * FROM iam.user_roles; CREATE TEMP VIEW outer_view AS SELECT user_id FROM inner_view; LOCK TABLE outer_view IN SHARE MODE"
expect "... a view over that view, in SHARE mode" 403 "$refused_lock"
run "$alice" "$none" "CREATE TEMP VIEW hidden AS WITH r AS (SELECT user_id FROM iam.user_roles) SELECT 1 AS one WHERE EXISTS (SELECT FROM r); LOCK hidden IN EXCLUSIVE MODE"
expect "... a view reaching it in a CTE under a sublink" 403 "$refused_lock"
run "$alice" "$none" "CREATE TEMP VIEW mine AS SELECT * FROM iam.user_roles; LOCK mine IN ACCESS SHARE MODE"
expect "... in ACCESS SHARE mode, which blocks no check" 200
run "$alice" "$none" "CREATE TEMP TABLE notes (x int); CREATE TEMP VIEW mine AS SELECT * FROM notes; LOCK mine IN ACCESS EXCLUSIVE MODE"
expect "... a view over the user's own table: theirs to lock" 200
# Inheritance and partitions would reach iam's tables from a user's table;
# making one needs the iam table's owner.
run "$alice" "$none" "CREATE TEMP TABLE child () INHERITS (iam.user_roles)"
expect "a user's table inheriting from iam.user_roles" 403 "42501: must be owner of table user_roles"
run "$alice" "$none" "CREATE TEMP TABLE parent (LIKE iam.user_roles); ALTER TABLE iam.user_roles INHERIT parent"
expect "... iam.user_roles made a child of a user's table" 403 "42501: must be owner of table user_roles"
run "$alice" "$none" "CREATE TEMP TABLE parts (LIKE iam.user_roles) PARTITION BY LIST (role_id); ALTER TABLE parts ATTACH PARTITION iam.user_roles DEFAULT"
expect "... iam.user_roles attached as a partition of a user's table" 403 "42501: must be owner of table user_roles"

# Bans and soft deletions reach the keys; an unconfirmed sign-up does not
# take a confirmed or SSO user's email.
sql -d "$db" -o /dev/null <<SQL
SET client_min_messages = warning;
\ir $here/../fixtures/supabase_auth.sql
SELECT iam.enable_auth_sync();
SQL
gotrue() { sql -U supabase_auth_admin -d "$db" -o /dev/null -c "SET search_path = auth" -c "$1"; }
sql -d postgres -o /dev/null -c "ALTER ROLE supabase_auth_admin PASSWORD '$PGPASSWORD'"
gotrue "INSERT INTO users (id, aud, role, email, email_confirmed_at) VALUES ('b0000000-0000-4000-8000-0000000000b1', 'authenticated', 'authenticated', 'bea@example.test', now())"
bea='{"aud":"authenticated","role":"authenticated","sub":"b0000000-0000-4000-8000-0000000000b1"}'
new_key "$bea" '{"name":"bea"}'
bea_key=$key_secret
verifies() { value -d "$db" -c "SELECT count(*) FROM iam.verify_api_key('$1')"; }
ban_check() {  # ban_check WHAT WANT
    checks=$((checks + 1))
    if [ "$(verifies "$bea_key")" = "$2" ]; then echo "  ok: $1: Bea's key verifies $2 time(s)"
    else echo "  FAIL: $1: Bea's key verifies $(verifies "$bea_key") time(s)"; failures=$((failures + 1)); fi
}
ban_check "signed up" 1
gotrue "UPDATE users SET banned_until = now() + interval '1 day' WHERE id = 'b0000000-0000-4000-8000-0000000000b1'"
ban_check "banned" 0
rpc '' "$(header "$bea_key")" GET current_user_id '{}'
expect "a banned user's key authenticates nothing" 401
gotrue "UPDATE users SET banned_until = NULL WHERE id = 'b0000000-0000-4000-8000-0000000000b1'"
ban_check "unbanned" 1
gotrue "UPDATE users SET deleted_at = now() WHERE id = 'b0000000-0000-4000-8000-0000000000b1'"
ban_check "soft-deleted" 0
gotrue "INSERT INTO users (id, aud, role, email, is_sso_user) VALUES ('b0000000-0000-4000-8000-0000000000b2', 'authenticated', 'authenticated', 'sso@example.test', true)"
gotrue "INSERT INTO users (id, aud, role, email) VALUES ('b0000000-0000-4000-8000-0000000000b3', '', '', 'sso@example.test')"
holder=$(value -d "$db" -c "SELECT id FROM iam.users WHERE email = 'sso@example.test'")
checks=$((checks + 1))
if [ "$holder" = b0000000-0000-4000-8000-0000000000b2 ]; then
    echo "  ok: an unconfirmed sign-up leaves the SSO user their email"
else echo "  FAIL: sso@example.test is held by $holder"; failures=$((failures + 1)); fi
gotrue "UPDATE users SET email_confirmed_at = now() WHERE id = 'b0000000-0000-4000-8000-0000000000b3'"
holder=$(value -d "$db" -c "SELECT id FROM iam.users WHERE email = 'sso@example.test'")
checks=$((checks + 1))
if [ "$holder" = b0000000-0000-4000-8000-0000000000b3 ]; then
    echo "  ok: once confirmed, the email is theirs"
else echo "  FAIL: after confirmation sso@example.test is held by $holder"; failures=$((failures + 1)); fi

[ $failures -eq 0 ] || { echo "FAIL: $failures of $checks adversarial checks"; exit 1; }
echo "PASS: $checks adversarial checks: every attack refused as documented"
