#!/usr/bin/env bash
# iam_ext served by PostgREST, on a database set up like Supabase's. The
# database's owner is not a superuser (as `postgres` is not on Supabase) and
# installs the extension itself. Each request is the transaction PostgREST 12.2
# sends as `authenticator` (test/fixtures/postgrest.sql has the statements and
# the SQLSTATE -> HTTP status mapping, with their source): BEGIN read only or
# read write, the transaction-local settings (role, request.jwt.claims,
# request.method, request.path, request.headers), the db-pre-request function
# iam.authenticate_request(), then the /rpc call with named arguments from
# JSON, or a table read. Covered: anonymous, a signed-in user, a user's API
# key (x-api-key and Authorization: ApiKey), a company's API key, bad,
# revoked and expired keys, forged settings, a pooled connection, functions
# PostgREST must refuse, GET on a writing function, the HTTP status of each
# error, and an application table whose policies use iam.can: a key within
# its scope and its company (GET, PATCH, POST, DELETE), Supabase's auth.uid()
# in a key-only request, and a JWT of one user with another's key refused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_postgrest
owner=iam_db_owner
source "$here/../lib.sh"
source "$here/../fixtures/postgrest_requests.sh"
trap 'dropdb --if-exists "$db" 2>/dev/null || true' EXIT

echo "setup: Supabase's roles and authenticator; a database owner who is not a superuser installs iam_ext"
create_supabase_database
# The tests' people (Alice and Vera are members of Acme, Pam is a
# platform_admin), then an application table.
sql -U "$owner" -d "$db" -o /dev/null -c 'CREATE EXTENSION iam_ext' -f "$here/../fixtures/people.sql" -f - <<'SQL'
-- An application table protected by the iam functions, as users write them.
CREATE TABLE public.courses (id integer PRIMARY KEY, owner_id uuid, company_id uuid, title text);
ALTER TABLE public.courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY courses_read ON public.courses FOR SELECT USING (
    owner_id = iam.current_user_id() OR company_id = ANY (iam.current_company_ids())
    OR iam.has_role('platform_admin'));
GRANT SELECT ON public.courses TO anon, authenticated;
INSERT INTO public.courses VALUES
    (1, 'a0000000-0000-4000-8000-0000000000a1', NULL, 'Alice''s own course'),
    (2, 'a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a', 'Acme onboarding'),
    (3, 'a0000000-0000-4000-8000-0000000000e1', NULL, 'Platform internals');
-- Keys: Alice's, Acme's, a revoked one and an expired one.
CREATE SCHEMA keys;
CREATE TABLE keys.issued (name text PRIMARY KEY, id uuid, api_key text);
INSERT INTO keys.issued
SELECT 'alice', id, api_key FROM iam.create_api_key('alice', 'a0000000-0000-4000-8000-0000000000a1',
                                                    permissions => '["courses:read"]');
INSERT INTO keys.issued
SELECT 'acme', id, api_key FROM iam.create_api_key('acme', NULL, 'c0000000-0000-4000-8000-00000000000a',
                                                   permissions => '["courses:*"]');
INSERT INTO keys.issued
SELECT 'revoked', id, api_key FROM iam.create_api_key('revoked', 'a0000000-0000-4000-8000-0000000000a1');
SELECT FROM iam.revoke_api_key((SELECT id FROM keys.issued WHERE name = 'revoked'));
INSERT INTO keys.issued
SELECT 'expired', id, api_key FROM iam.create_api_key('expired', 'a0000000-0000-4000-8000-0000000000a1',
                                                      expires_at => now() + interval '1 hour');
UPDATE iam.api_keys SET expires_at = now() - interval '1 minute'
WHERE id = (SELECT id FROM keys.issued WHERE name = 'expired');
SELECT FROM iam.create_referral_code('a0000000-0000-4000-8000-0000000000a1', 'ALICE-INVITES');
SQL
sql -U "$owner" -d "$db" -f "$here/../fixtures/postgrest.sql"
key() { value -U "$owner" -d "$db" -c "SELECT api_key FROM keys.issued WHERE name = '$1'"; }
alice_key=$(key alice) acme_key=$(key acme) revoked_key=$(key revoked) expired_key=$(key expired)
alice_jwt='{"aud":"authenticated","role":"authenticated","sub":"a0000000-0000-4000-8000-0000000000a1","email":"alice@acme.test"}'
vera_jwt='{"aud":"authenticated","role":"authenticated","sub":"a0000000-0000-4000-8000-0000000000a2"}'
pam_jwt='{"aud":"authenticated","role":"authenticated","sub":"a0000000-0000-4000-8000-0000000000e1"}'
service_jwt='{"iss":"supabase","role":"service_role"}'

none='{}'
alice_header="{\"x-api-key\":\"$alice_key\"}"

echo "anonymous"
rpc '' "$none" GET current_user_id '{}'
expect "GET /rpc/current_user_id" 200 null
read_table '' "$none" public.courses id
expect "GET /courses" 200 '[]'
rpc '' "$none" POST create_api_key '{"name":"mine","user_id":"a0000000-0000-4000-8000-0000000000a1"}'
expect "POST /rpc/create_api_key is refused" 401
# A function that needs a caller tells an anonymous one to sign in.
rpc '' "$none" POST create_api_key '{"name":"mine"}'
expect "POST /rpc/create_api_key without a caller: sign in first" 401 \
    '42501: creating an API key needs a signed-in user or an API key'
rpc '' "$none" POST create_referral_code '{}'
expect "POST /rpc/create_referral_code without a caller: sign in first" 401 \
    '42501: creating a referral code needs a signed-in user'
rpc '' "$none" POST redeem_referral_code '{"code":"ALICE-INVITES"}'
expect "POST /rpc/redeem_referral_code without a caller: sign in first" 401 \
    '42501: redeeming a referral code needs a signed-in user'
rpc '' "$none" POST enable_auth_sync '{}'
expect "POST /rpc/enable_auth_sync (an operator function)" 401 \
    '42501: permission denied for function enable_auth_sync'
rpc '' "$none" POST verify_api_key "{\"api_key\":\"$alice_key\"}"
expect "POST /rpc/verify_api_key (the login path is open)" 200
[ "$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'user_id';")" = a0000000-0000-4000-8000-0000000000a1 ] ||
    { echo "  FAIL: verify_api_key did not return Alice's key"; failures=$((failures + 1)); }

echo "a signed-in user (JWT)"
rpc "$alice_jwt" "$none" GET current_user_id '{}'
expect "GET /rpc/current_user_id" 200 '"a0000000-0000-4000-8000-0000000000a1"'
rpc "$alice_jwt" "$none" GET has_role '{"role_name":"platform_admin"}'
expect "GET /rpc/has_role?role_name=platform_admin" 200 false
rpc "$pam_jwt" "$none" GET has_role '{"role_name":"platform_admin"}'
expect "GET /rpc/has_role?role_name=platform_admin as Pam" 200 true
rpc "$alice_jwt" "$none" GET has_role '{"role_name":"no_such_role"}'
expect "an unknown role" 400 '42704: role "no_such_role" does not exist'
read_table "$alice_jwt" "$none" public.courses id id
expect "GET /courses: her own and her company's" 200 '[{"id": 1}, {"id": 2}]'
rpc "$alice_jwt" '{"authorization":"Bearer eyJhbGciOi.x.y"}' GET current_user_id '{}'
expect "a Bearer token is PostgREST's: authenticate_request leaves it" 200 '"a0000000-0000-4000-8000-0000000000a1"'
rpc "$alice_jwt" "$none" POST create_api_key '{"name":"cli","user_id":"a0000000-0000-4000-8000-0000000000a2"}'
expect "POST /rpc/create_api_key for another user" 403
rpc "$alice_jwt" "$none" POST create_api_key '{"name":"cli","permissions":{"not":"an array"}}'
expect "POST /rpc/create_api_key with malformed permissions" 400
rpc "$alice_jwt" "$none" GET create_api_key '{"name":"cli"}'
expect "GET /rpc/create_api_key (writes in a read-only transaction)" 405
rpc "$alice_jwt" "$none" POST revoke_api_key '{"key_id":"a0000000-0000-4000-8000-0000000000ff"}'
expect "POST /rpc/revoke_api_key of an unknown key" 404 'P0002: no API key with this id that you may revoke'
rpc "$vera_jwt" "$none" POST redeem_referral_code '{"code":"alice-invites"}'
expect "POST /rpc/redeem_referral_code" 200
rpc "$vera_jwt" "$none" POST redeem_referral_code '{"code":"alice-invites"}'
expect "... again: already referred" 409
unknown_code=$(value -d "$db" -c "SELECT iam.generate_referral_code()")
rpc "$vera_jwt" "$none" POST redeem_referral_code "{\"code\":\"$unknown_code\"}"
expect "... an unknown code, by a user already referred: the same answer" 409 '23505: this user was already referred'
rpc "$pam_jwt" "$none" POST redeem_referral_code "{\"code\":\"$unknown_code\"}"
expect "... an unknown code" 404 'P0002: no referral code can be redeemed as typed'

echo "a company's invitations"
carol_jwt='{"aud":"authenticated","role":"authenticated","sub":"a0000000-0000-4000-8000-0000000000a3"}'
nina_jwt='{"aud":"authenticated","role":"authenticated","sub":"a0000000-0000-4000-8000-0000000000d1"}'
acme=c0000000-0000-4000-8000-00000000000a
rpc "$alice_jwt" "$none" POST invite_to_company "{\"company_id\":\"$acme\",\"email\":\"nina@example.test\"}"
expect "POST /rpc/invite_to_company as a plain member" 403
rpc "$carol_jwt" "$none" POST invite_to_company "{\"company_id\":\"$acme\",\"email\":\"nina@example.test\"}"
expect "POST /rpc/invite_to_company as Acme's admin" 200
invitation_token=$(value -v j="$body" <<<"SELECT :'j'::jsonb -> 0 ->> 'token';")
refused_invitation="P0002: no such invitation for you: it is unknown, expired, revoked, used, or someone else's"
rpc '' "$none" POST accept_company_invitation "{\"token\":\"$invitation_token\"}"
expect "POST /rpc/accept_company_invitation as anon" 401 '42501: permission denied for function accept_company_invitation'
rpc "$vera_jwt" "$none" POST accept_company_invitation "{\"token\":\"$invitation_token\"}"
expect "... as someone else" 404 "$refused_invitation"
read_table "$carol_jwt" "$none" iam.company_members full_name full_name
expect "GET /company_members as Carol: Nina is not there yet" 200 \
    '[{"full_name": "Alice"}, {"full_name": "Carol"}, {"full_name": "Vera"}]'
# Nina has not confirmed her address yet: the invitation by email does not
# admit her, and she may not confirm it herself; the backend (the service
# role) does, once its sign-up flow has.
rpc "$nina_jwt" "$none" POST accept_company_invitation "{\"token\":\"$invitation_token\"}"
expect "... as Nina, her address unconfirmed" 404 "$refused_invitation"
patch_table "$nina_jwt" "$none" iam.users '{"email_confirmed_at":"2026-01-01T00:00:00Z"}' id a0000000-0000-4000-8000-0000000000d1
expect "PATCH /users: Nina confirms her own address" 403
patch_table "$service_jwt" "$none" iam.users '{"email_confirmed_at":"2026-01-01T00:00:00Z"}' id a0000000-0000-4000-8000-0000000000d1
expect "PATCH /users as the service role: her address confirmed" 200
rpc "$nina_jwt" "$none" POST accept_company_invitation "{\"token\":\"$invitation_token\"}"
expect "... as Nina" 200 "\"$acme\""
rpc "$nina_jwt" "$none" POST accept_company_invitation "{\"token\":\"$invitation_token\"}"
expect "... again" 404 "$refused_invitation"
read_table "$carol_jwt" "$none" iam.company_members full_name full_name
expect "GET /company_members as Carol: now she is" 200 \
    '[{"full_name": "Alice"}, {"full_name": "Carol"}, {"full_name": "Nina"}, {"full_name": "Vera"}]'
rpc "$carol_jwt" "$none" POST remove_company_member "{\"company_id\":\"$acme\",\"user_id\":\"a0000000-0000-4000-8000-0000000000a3\"}"
expect "POST /rpc/remove_company_member: the last admin may not leave" 400 \
    "23514: company $acme would be left without an admin"

echo "a user's API key"
rpc '' "$alice_header" GET current_user_id '{}'
expect "x-api-key: the key's owner is the caller" 200 '"a0000000-0000-4000-8000-0000000000a1"'
rpc '' "{\"authorization\":\"ApiKey $alice_key\"}" GET current_user_id '{}'
expect "Authorization: ApiKey, the same" 200 '"a0000000-0000-4000-8000-0000000000a1"'
read_table '' "$alice_header" public.courses id id
expect "GET /courses with the key: RLS acts for Alice" 200 '[{"id": 1}, {"id": 2}]'
rpc '' "$alice_header" GET has_permission '{"permission":"courses:read"}'
expect "GET /rpc/has_permission?permission=courses:read" 200 true
rpc '' "$alice_header" GET has_permission '{"permission":"courses:write"}'
expect "GET /rpc/has_permission?permission=courses:write" 200 false
read_table '' "$alice_header" iam.api_keys name name
expect "GET /api_keys: her keys' metadata" 200 '[{"name": "alice"}, {"name": "expired"}, {"name": "revoked"}]'
# PostgREST maps 42501 by whether the request carried a JWT: with an API key
# alone it answers 401, not 403.
read_table '' "$alice_header" iam.api_keys hashed_key
expect "GET /api_keys?select=hashed_key" 401 '42501: permission denied for table api_keys'
touched_before=$(value -d "$db" -c "SELECT count(*) FROM iam.api_keys WHERE last_used_at IS NOT NULL")
rpc '' "$none" GET verify_api_key "{\"api_key\":\"$acme_key\"}"
expect "GET /rpc/verify_api_key (read only)" 200
[ "$(value -d "$db" -c "SELECT count(*) FROM iam.api_keys WHERE last_used_at IS NOT NULL")" = "$touched_before" ] ||
    { echo "  FAIL: a read-only verification wrote last_used_at"; failures=$((failures + 1)); }

echo "a company's API key"
rpc '' "{\"x-api-key\":\"$acme_key\"}" GET current_user_id '{}'
expect "no user" 200 null
rpc '' "{\"x-api-key\":\"$acme_key\"}" GET current_company_ids '{}'
expect "current_company_ids() is the company" 200 '["c0000000-0000-4000-8000-00000000000a"]'
read_table '' "{\"x-api-key\":\"$acme_key\"}" public.courses id
expect "GET /courses: the company's courses" 200 '[{"id": 2}]'
read_table '' "{\"x-api-key\":\"$acme_key\"}" iam.companies name
expect "GET /companies: its company" 200 '[{"name": "Acme"}]'
rpc '' "{\"x-api-key\":\"$acme_key\"}" GET has_permission '{"permission":"courses:write"}'
expect "its permissions: courses:* covers courses:write" 200 true

echo "bad keys: 401 without saying why, and the call never runs"
# Alice's key with its last character changed (to another one: a random
# key may end in x already).
altered_key=${alice_key%?}$([ "${alice_key: -1}" = x ] && echo y || echo x)
for bad in "$revoked_key" "$expired_key" "$altered_key" "iam_short" "$(printf 'x%.0s' {1..2000})"; do
    rpc '' "{\"x-api-key\":\"$bad\"}" GET current_user_id '{}'
    expect "a bad key (${bad:0:12}...)" 401 '28000: invalid API key'
done

echo "forged settings and a pooled connection"
# Once iam_ext is loaded (the pre-request loads it), schema iam's setting
# names are reserved: a made-up one cannot even be set.
send '' "$none" POST /rpc/current_user_id \
    "SELECT set_config('iam.api_key_user_id', 'a0000000-0000-4000-8000-0000000000a1', true)"
expect "set_config('iam.api_key_user_id') in a request" 400 \
    '42602: invalid configuration parameter name "iam.api_key_user_id"'
# The setting that holds the request's API-key context is the superuser's.
send '' "$none" POST /rpc/current_user_id \
    "SELECT set_config('iam.request_api_key', 'b0000000-0000-4000-8000-000000000001;a0000000-0000-4000-8000-0000000000a1;;;;[\"*\"]', true)"
expect "set_config('iam.request_api_key') in a request" 401 \
    '42501: permission denied to set parameter "iam.request_api_key"'
# forges_nothing WHAT STATEMENT...: after the statements, an anonymous
# request is still nobody and holds no permission.
forges_nothing() {
    local what=$1 result
    shift
    result=$(printf '%s;\n' "BEGIN" "SELECT set_config('role', 'anon', true)" "$@" \
        "SELECT 'forged: ' || coalesce(iam.current_user_id()::text, 'nobody') || ' ' || iam.has_permission('courses:read')" \
        "COMMIT" | psql -X -q -tA -U authenticator -d "$db" 2>/dev/null | grep '^forged:' || true)
    checks=$((checks + 1))
    if [ "$result" = "forged: nobody false" ]; then echo "  ok: $what"
    else echo "  FAIL: $what: $result"; failures=$((failures + 1)); fi
}
context="b0000000-0000-4000-8000-000000000001;a0000000-0000-4000-8000-0000000000a1;;;;[\"*\"]"
# Set before the library loads, it is dropped when it loads, and forges
# nothing. (Preloaded, the library is there before any setting: the checks
# above are the whole story.)
if [ "$(value -d "$db" -c "SELECT current_setting('shared_preload_libraries') ~ 'iam_ext'")" = f ]; then
    forges_nothing "settings made up before iam_ext loads forge nothing" \
        "SELECT set_config('iam.user_id', 'a0000000-0000-4000-8000-0000000000a1', true)" \
        "SELECT set_config('iam.api_key_context', '{\"user_id\":\"a0000000-0000-4000-8000-0000000000a1\"}', true)" \
        "SELECT set_config('iam.request_api_key', '$context', true)"
fi
# The context a Citus coordinator sends its workers is taken on a worker
# only: set on this server, it forges nothing.
forges_nothing "iam.coordinator_api_key forges nothing off a Citus worker" \
    "SELECT set_config('iam.coordinator_api_key', '$context', true)"
# One backend, two requests in turn: the key's context ends with its
# transaction, committed or rolled back.
pooled=$(printf '%s;\n' \
    "BEGIN" "SELECT set_config('request.headers', '$alice_header', true), set_config('role', 'anon', true)" \
    "SELECT iam.authenticate_request()" "SELECT 1/0" "ROLLBACK" \
    "BEGIN" "SELECT set_config('request.headers', '$alice_header', true), set_config('role', 'anon', true)" \
    "SELECT iam.authenticate_request()" "COMMIT" \
    "BEGIN" "SELECT set_config('role', 'anon', true)" "SELECT 'after: ' || coalesce(iam.current_user_id()::text, 'nobody')" \
    "SELECT 'permission: ' || iam.has_permission('courses:read')" "COMMIT" |
    psql -X -q -tA -U authenticator -d "$db" 2>&1 | grep -E '^(after|permission):' | paste -sd ' ')
checks=$((checks + 1))
if [ "$pooled" = "after: nobody permission: false" ]; then echo "  ok: the next request on the connection is anonymous"
else echo "  FAIL: the next request on the connection: $pooled"; failures=$((failures + 1)); fi

echo "the service role"
rpc "$service_jwt" "$none" POST grant_role '{"user_id":"a0000000-0000-4000-8000-0000000000a2","role_name":"support_agent"}'
expect "POST /rpc/grant_role" 200 true
rpc "$alice_jwt" "$none" POST grant_role '{"user_id":"a0000000-0000-4000-8000-0000000000a2","role_name":"support_agent"}'
expect "... which a user may not" 403

echo "a leaked key, reported by anyone who finds it"
leaked_key=$(value -U "$owner" -d "$db" -c "SELECT api_key FROM iam.create_api_key('leaked', 'a0000000-0000-4000-8000-0000000000a1')")
rpc '' "$none" POST report_leaked_api_key "{\"api_key\":\"$leaked_key\"}"
expect "POST /rpc/report_leaked_api_key as anon" 200 true
rpc '' "$none" POST verify_api_key "{\"api_key\":\"$leaked_key\"}"
expect "... and the key no longer verifies" 200 '[]'
rpc '' "$none" POST report_leaked_api_key '{"api_key":"not a key"}'
expect "... something that is not a key" 400 '22023: this is not an iam_ext API key'
[ "$(value -d "$db" -c "SELECT actor_role FROM iam.audit_log WHERE action = 'api_key_revoked' ORDER BY id DESC LIMIT 1")" = anon ] ||
    { echo "  FAIL: the revocation is not audited as anon's"; failures=$((failures + 1)); }

echo "revoked JWTs: a ban, a deletion or a sign-out refuses the next request"
gus=a0000000-0000-4000-8000-0000000000d2 nina=a0000000-0000-4000-8000-0000000000d1
dora=b2000000-0000-4000-8000-0000000000d0
session() { echo "5e550000-0000-4000-8000-00000000000$1"; }
jwt_of() {  # jwt_of USER [SESSION]: the claims of a Supabase access token
    echo "{\"aud\":\"authenticated\",\"role\":\"authenticated\",\"sub\":\"$1\"${2:+,\"session_id\":\"$2\"}}"
}
revoked='28000: invalid JWT: its user is banned or deleted, or its session has ended'
as_superuser() { sql -d "$db" -o /dev/null -c "$1"; }
# Without auth.sessions (plain PostgREST), a session_id is not checked.
rpc "$(jwt_of "$gus" "$(session 1)")" "$none" GET current_user_id '{}'
expect "no auth.sessions: a session_id is not checked" 200 "\"$gus\""
# A subject iam.users does not know is the caller, as before; they own nothing.
rpc "$(jwt_of "$dora")" "$none" GET current_user_id '{}'
expect "a subject iam.users does not know: as before" 200 "\"$dora\""
# Banned by the operator in iam.users itself (no Supabase Auth).
as_superuser "UPDATE iam.users SET banned_until = now() + interval '1 hour' WHERE id = '$gus'"
rpc "$(jwt_of "$gus")" "$none" GET current_user_id '{}'
expect "a banned user's JWT" 401 "$revoked"
[ "$response_headers" = '{"WWW-Authenticate": "Bearer error=\"invalid_token\""}' ] ||
    { echo "  FAIL: the 401 challenges with $response_headers"; failures=$((failures + 1)); }
read_table "$(jwt_of "$gus")" "$none" public.courses id
expect "... on a table read too" 401 "$revoked"
rpc "$(jwt_of "$gus")" "$alice_header" GET current_user_id '{}'
expect "... whatever else the request carries (Alice's key)" 401 "$revoked"
as_superuser "UPDATE iam.users SET banned_until = now() - interval '1 minute' WHERE id = '$gus'"
rpc "$(jwt_of "$gus")" "$none" GET current_user_id '{}'
expect "a ban that has ended" 200 "\"$gus\""
as_superuser "UPDATE iam.users SET banned_until = NULL WHERE id = '$gus'"

# Supabase Auth: the sync carries bans and deletions into iam.users, and
# GoTrue deletes a session's row at sign-out and with its user.
sql -d "$db" -o /dev/null <<SQL
SET client_min_messages = warning;
\ir $here/../fixtures/supabase_auth.sql
SELECT iam.enable_auth_sync();
SQL
sql -d postgres -o /dev/null -c "ALTER ROLE supabase_auth_admin PASSWORD '$PGPASSWORD'"
gotrue() { sql -U supabase_auth_admin -d "$db" -o /dev/null -c "SET search_path = auth" -c "$1"; }
signs_up() {  # signs_up USER EMAIL
    gotrue "INSERT INTO users (id, aud, role, email, email_confirmed_at) VALUES ('$1', 'authenticated', 'authenticated', '$2', now())"
}
signs_in() { gotrue "INSERT INTO sessions (id, user_id, created_at, aal) VALUES ('$2', '$1', now(), 'aal1')"; }
signs_up "$gus" gus@example.test
signs_up "$nina" nina@example.test
signs_up "$dora" dora@example.test
signs_in "$gus" "$(session 1)"
signs_in "$gus" "$(session 2)"
signs_in "$nina" "$(session 3)"
signs_in "$dora" "$(session 4)"
rpc "$(jwt_of "$gus" "$(session 1)")" "$none" GET current_user_id '{}'
expect "a signed-in session" 200 "\"$gus\""
gotrue "UPDATE users SET banned_until = now() + interval '1 day' WHERE id = '$gus'"
rpc "$(jwt_of "$gus" "$(session 1)")" "$none" GET current_user_id '{}'
expect "banned in Auth: refused at the next request" 401 "$revoked"
gotrue "UPDATE users SET banned_until = NULL WHERE id = '$gus'"
rpc "$(jwt_of "$gus" "$(session 1)")" "$none" GET current_user_id '{}'
expect "unbanned: accepted again" 200 "\"$gus\""
gotrue "DELETE FROM sessions WHERE id = '$(session 1)'"
rpc "$(jwt_of "$gus" "$(session 1)")" "$none" GET current_user_id '{}'
expect "a signed-out session" 401 "$revoked"
rpc "$(jwt_of "$gus" "$(session 2)")" "$none" GET current_user_id '{}'
expect "... the user's other session still works" 200 "\"$gus\""
rpc "$(jwt_of "$gus")" "$none" GET current_user_id '{}'
expect "... and a token that names no session" 200 "\"$gus\""
gotrue "DELETE FROM sessions WHERE user_id = '$gus'"
rpc "$(jwt_of "$gus" "$(session 2)")" "$none" GET current_user_id '{}'
expect "signed out everywhere: every session refused" 401 "$revoked"
rpc "$(jwt_of "$nina" "$(session 3)")" "$none" GET current_user_id '{}'
expect "before a soft deletion" 200 "\"$nina\""
gotrue "UPDATE users SET deleted_at = now() WHERE id = '$nina'"
rpc "$(jwt_of "$nina" "$(session 3)")" "$none" GET current_user_id '{}'
expect "soft-deleted in Auth" 401 "$revoked"
rpc "$(jwt_of "$nina")" "$none" GET current_user_id '{}'
expect "... also by a token that names no session" 401 "$revoked"
rpc "$(jwt_of "$dora" "$(session 4)")" "$none" GET current_user_id '{}'
expect "before a deletion" 200 "\"$dora\""
gotrue "DELETE FROM users WHERE id = '$dora'"
rpc "$(jwt_of "$dora" "$(session 4)")" "$none" GET current_user_id '{}'
expect "deleted in Auth: its sessions went with it" 401 "$revoked"
# One backend, as a pooler hands it from request to request: a ban
# committed between two requests refuses the second.
pooled_request() {
    printf '%s;\n' "BEGIN" \
        "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '$(jwt_of "$gus" "$(session 5)")', true)" \
        "SELECT iam.authenticate_request()" "SELECT 'request: ' || iam.current_user_id()" "COMMIT"
}
signs_in "$gus" "$(session 5)"
pooled=$({ pooled_request
           echo "\\! psql -X -q -U supabase_auth_admin -d $db -c \"UPDATE auth.users SET banned_until = now() + interval '1 day' WHERE id = '$gus'\""
           pooled_request; } |
    psql -X -q -tA -U authenticator -d "$db" 2>&1 | sed -n 's/^request: \(.*\)/\1/p; s/.*ERROR:  \(invalid JWT.*\)/\1/p' | paste -sd '|')
checks=$((checks + 1))
if [ "$pooled" = "$gus|${revoked#28000: }" ]; then echo "  ok: one backend: the request after the ban is refused"
else echo "  FAIL: one backend, before and after a ban: $pooled"; failures=$((failures + 1)); fi
# One backend while another replaces auth.sessions: where the table and its
# key are is kept per backend, and forgotten with the catalog's
# invalidations, so the check follows the new table and then the old one.
erin=b2000000-0000-4000-8000-0000000000e2
signs_up "$erin" erin@example.test
signs_in "$erin" "$(session 6)"
erins_request() {
    printf '%s;\n' "BEGIN" \
        "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '$(jwt_of "$erin" "$(session 6)")', true)" \
        "SELECT iam.authenticate_request()" "SELECT 'request: ' || iam.current_user_id()" "COMMIT"
}
meanwhile() { echo "\\! psql -X -q -d $db -c \"$1\""; }
replaced=$({ erins_request
             meanwhile "ALTER TABLE auth.sessions RENAME TO sessions_before; CREATE TABLE auth.sessions (LIKE auth.sessions_before INCLUDING ALL)"
             erins_request
             meanwhile "INSERT INTO auth.sessions SELECT * FROM auth.sessions_before"
             erins_request
             meanwhile "DROP TABLE auth.sessions; ALTER TABLE auth.sessions_before RENAME TO sessions; DELETE FROM auth.sessions WHERE id = '$(session 6)'"
             erins_request; } |
    psql -X -q -tA -U authenticator -d "$db" 2>&1 | sed -n 's/^request: \(.*\)/\1/p; s/.*ERROR:  \(invalid JWT.*\)/\1/p' | paste -sd '|')
checks=$((checks + 1))
if [ "$replaced" = "$erin|${revoked#28000: }|$erin|${revoked#28000: }" ]; then
    echo "  ok: one backend: auth.sessions replaced by an empty table, filled, dropped for the old one"
else echo "  FAIL: one backend, auth.sessions replaced meanwhile: $replaced"; failures=$((failures + 1)); fi

echo "an application table protected with iam.can: keys within their scope and their company"
# learning.courses: read with courses:read, written with courses:edit, in the
# row's company; learning.drafts: the owner's only, by Supabase's auth.uid()
# (loaded above with Supabase Auth's schema). Alice is an instructor in Acme
# (a template granting courses:*); Olga administers Globex (admin: *).
sql -U "$owner" -d "$db" -o /dev/null <<'SQL'
CREATE SCHEMA learning;
GRANT USAGE ON SCHEMA learning TO anon, authenticated, service_role;
CREATE TABLE learning.courses (id integer PRIMARY KEY, company_id uuid NOT NULL, title text);
ALTER TABLE learning.courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY courses_select ON learning.courses FOR SELECT USING (iam.can('courses:read', company_id));
CREATE POLICY courses_insert ON learning.courses FOR INSERT WITH CHECK (iam.can('courses:edit', company_id));
CREATE POLICY courses_update ON learning.courses FOR UPDATE
    USING (iam.can('courses:edit', company_id)) WITH CHECK (iam.can('courses:edit', company_id));
CREATE POLICY courses_delete ON learning.courses FOR DELETE USING (iam.can('courses:edit', company_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON learning.courses TO authenticated;
CREATE TABLE learning.drafts (id integer PRIMARY KEY, owner_id uuid NOT NULL, title text);
ALTER TABLE learning.drafts ENABLE ROW LEVEL SECURITY;
CREATE POLICY drafts_own ON learning.drafts FOR SELECT USING (auth.uid() = owner_id);
GRANT SELECT ON learning.drafts TO authenticated;
INSERT INTO learning.courses VALUES
    (1, 'c0000000-0000-4000-8000-00000000000a', 'Acme onboarding'),
    (2, 'c0000000-0000-4000-8000-00000000000b', 'Globex safety');
INSERT INTO learning.drafts VALUES
    (1, 'a0000000-0000-4000-8000-0000000000a1', 'Alice''s draft'),
    (2, 'a0000000-0000-4000-8000-0000000000a2', 'Vera''s draft');
INSERT INTO iam.permissions (name) VALUES ('courses:read'), ('courses:edit'), ('reports:view')
    ON CONFLICT DO NOTHING;
INSERT INTO iam.company_roles (company_id, name) VALUES (NULL, 'instructor');
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT id, 'courses:*' FROM iam.company_roles WHERE company_id IS NULL AND name = 'instructor';
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', 'a0000000-0000-4000-8000-0000000000a1', 'instructor');
INSERT INTO keys.issued
SELECT 'alice reports', id, api_key FROM iam.create_api_key('alice reports', 'a0000000-0000-4000-8000-0000000000a1',
                                                            permissions => '["reports:*"]');
INSERT INTO keys.issued
SELECT 'alice courses', id, api_key FROM iam.create_api_key('alice courses', 'a0000000-0000-4000-8000-0000000000a1',
                                                            permissions => '["courses:read", "courses:edit"]');
SQL
courses() { value -U "$owner" -d "$db" -c "SELECT string_agg(id || ':' || title, ', ' ORDER BY id) FROM learning.courses"; }
unchanged() {  # unchanged WHAT: the table is as it was
    checks=$((checks + 1))
    if [ "$(courses)" = "$1" ]; then echo "  ok: ... and the table is unchanged"
    else echo "  FAIL: ... the table changed: $(courses)"; failures=$((failures + 1)); fi
}
reports_header="{\"x-api-key\":\"$(key 'alice reports')\"}"
courses_header="{\"x-api-key\":\"$(key 'alice courses')\"}"
acme_header="{\"x-api-key\":\"$acme_key\"}"
initial=$(courses)

read_table "$alice_jwt" "$none" learning.courses id id
expect "GET /courses as Alice (JWT): Acme's, where she is an instructor" 200 '[{"id": 1}]'
# Alice's key scoped to reports:*: Alice may edit courses, the key may not.
read_table '' "$reports_header" learning.courses id id
expect "GET /courses with a key of the wrong scope: nothing" 200 '[]'
patch_table '' "$reports_header" learning.courses '{"title":"renamed"}' id 1
expect "PATCH /courses?id=eq.1 with it: no row matches" 200
unchanged "$initial"
post_table '' "$reports_header" learning.courses '{"id":3,"company_id":"c0000000-0000-4000-8000-00000000000a","title":"new"}'
expect "POST /courses with it: refused (no JWT: 401)" 401 \
    '42501: new row violates row-level security policy for table "courses"'
unchanged "$initial"
delete_table '' "$reports_header" learning.courses id 1
expect "DELETE /courses?id=eq.1 with it: no row matches" 200
unchanged "$initial"
# The same user's JWT beside the key is one identity: the key still bounds it.
read_table "$alice_jwt" "$reports_header" learning.courses id id
expect "GET /courses with Alice's JWT and that key: still bounded by the key" 200 '[]'

read_table '' "$courses_header" learning.courses id id
expect "GET /courses with a key scoped to courses:read and courses:edit" 200 '[{"id": 1}]'
patch_table '' "$courses_header" learning.courses '{"title":"Acme onboarding, 2nd edition"}' id 1
expect "PATCH /courses?id=eq.1 with it" 200
post_table '' "$courses_header" learning.courses '{"id":3,"company_id":"c0000000-0000-4000-8000-00000000000a","title":"Acme advanced"}'
expect "POST /courses into Acme with it" 200
patch_table '' "$courses_header" learning.courses '{"title":"taken over"}' id 2
expect "PATCH /courses?id=eq.2 (Globex's) with it: no row matches" 200
post_table '' "$courses_header" learning.courses '{"id":4,"company_id":"c0000000-0000-4000-8000-00000000000b","title":"planted"}'
expect "POST /courses into Globex with it: refused" 401 \
    '42501: new row violates row-level security policy for table "courses"'
delete_table '' "$courses_header" learning.courses id 3
expect "DELETE /courses?id=eq.3 with it" 200
checks=$((checks + 1))
if [ "$(courses)" = "1:Acme onboarding, 2nd edition, 2:Globex safety" ]; then
    echo "  ok: the right scope changed Acme's courses, and Globex's not"
else echo "  FAIL: after the right scope's requests: $(courses)"; failures=$((failures + 1)); fi
edited=$(courses)

# Acme's own key (courses:*): its company only.
read_table '' "$acme_header" learning.courses id id
expect "GET /courses with Acme's key: Acme's only" 200 '[{"id": 1}]'
patch_table '' "$acme_header" learning.courses '{"title":"taken over"}' id 2
expect "PATCH /courses?id=eq.2 (Globex's) with Acme's key: no row matches" 200
delete_table '' "$acme_header" learning.courses id 2
expect "DELETE /courses?id=eq.2 with Acme's key: no row matches" 200
post_table '' "$acme_header" learning.courses '{"id":5,"company_id":"c0000000-0000-4000-8000-00000000000b","title":"planted"}'
expect "POST /courses into Globex with Acme's key: refused" 401 \
    '42501: new row violates row-level security policy for table "courses"'
unchanged "$edited"
patch_table '' "$acme_header" learning.courses '{"title":"Acme onboarding"}' id 1
expect "PATCH /courses?id=eq.1 (Acme's) with Acme's key" 200
checks=$((checks + 1))
if [ "$(courses)" = "$initial" ]; then echo "  ok: ... which changed Acme's course"
else echo "  FAIL: after Acme's key's PATCH: $(courses)"; failures=$((failures + 1)); fi

# Supabase's auth.uid() sees the key's owner in a key-only request.
read_table '' "$courses_header" learning.drafts id id
expect "GET /drafts (auth.uid() = owner_id) with Alice's key alone: her draft" 200 '[{"id": 1}]'
rpc '' "$courses_header" GET current_api_key_id '{}'
expect "GET /rpc/current_api_key_id: the key" 200 "\"$(value -U "$owner" -d "$db" -c "SELECT id FROM keys.issued WHERE name = 'alice courses'")\""
read_table '' "$acme_header" learning.drafts id id
expect "GET /drafts with Acme's key (no user): none" 200 '[]'

# One identity per request: a JWT of one user with another user's key, or
# any user's JWT with a company's key, is refused before anything runs.
mixed='28000: the request'"'"'s JWT and its API key name different users'
read_table "$vera_jwt" "$courses_header" learning.drafts id id
expect "GET /drafts with Vera's JWT and Alice's key: refused" 401 "$mixed"
read_table "$vera_jwt" "$courses_header" learning.courses id id
expect "GET /courses with Vera's JWT and Alice's key: refused" 401 "$mixed"
patch_table "$vera_jwt" "$courses_header" learning.courses '{"title":"mixed"}' id 1
expect "PATCH /courses with Vera's JWT and Alice's key: refused" 401 "$mixed"
post_table "$alice_jwt" "$acme_header" learning.courses '{"id":6,"company_id":"c0000000-0000-4000-8000-00000000000a","title":"mixed"}'
expect "POST /courses with Alice's JWT and Acme's key: refused" 401 "$mixed"
unchanged "$initial"

[ $failures -eq 0 ] || { echo "FAIL: $failures of $checks PostgREST-shaped checks"; exit 1; }
echo "PASS: $checks PostgREST-shaped requests answered as documented"
