#!/usr/bin/env bash
# Hostile input: every SQL function of schema iam (from the catalog, trigger
# functions aside) is called with NULLs in every position, empty and 1 MB
# strings, non-ASCII and emoji, non-UUIDs, infinite timestamps, empty, huge
# and NULL-filled arrays, malformed JSON and injection-looking text; by the
# superuser, service_role, anon and signed-in users; and under malformed or
# huge request.jwt.claims, request.jwt.claim.sub and request.headers, bad
# API keys, a read-only transaction and a search_path that shadows the =
# operators (hostile_input.sql builds the calls). Every call must give a
# result or an error with a SQLSTATE its function documents (or, for a
# literal PostgreSQL itself refuses, that input error), never XX000; a
# failing call must change no row and leave no identity behind; the server
# log must show no crash. A function of schema iam the suite does not know
# fails it, so that a new function cannot slip past.
set -euo pipefail

db=iam_hostile
regressions_db=iam_hostile_regressions
here=$(cd "$(dirname "$0")" && pwd)
log=${IAM_SERVER_LOG:-${PGHOST:-}/postgres.log}
source "$here/../lib.sh"
work=$(mktemp -d)
drop_all() {  # only if the server is still there to ask
    pg_isready -q || return 0
    dropdb --if-exists "$db" 2>/dev/null || true
    dropdb --if-exists "$regressions_db" 2>/dev/null || true
    psql -X -q -c 'DROP ROLE IF EXISTS hostile_mallory' 2>/dev/null || true
    # The Supabase Auth role of the fixture, if this script created it.
    $made_auth_admin && psql -X -q -c 'DROP ROLE IF EXISTS supabase_auth_admin' 2>/dev/null || true
}
made_auth_admin=false
drop_all
[ "$(value -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = 'supabase_auth_admin'")" = 0 ] &&
    made_auth_admin=true
# IAM_HOSTILE_KEEP=1 keeps the databases, to look into the outcomes.
if [ -n "${IAM_HOSTILE_KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else trap 'rm -rf "$work"; drop_all' EXIT; fi
started=$SECONDS

[ -r "$log" ] || { echo "FAIL: cannot read the server log $log (set IAM_SERVER_LOG)"; exit 1; }
log_start=$(stat -c %s "$log")

failures=0
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }
check_value() {  # check_value WHAT EXPECTED ACTUAL
    if [ "$3" = "$2" ]; then echo "  ok: $1 ($3)"; else fail "$1: expected $2, got $3"; fi
}
check() {  # check WHAT EXPECTED QUERY [DATABASE]
    check_value "$1" "$2" "$(value -d "${4:-$db}" -c "$3")"
}
# Lists the rows of QUERY (if any) under a FAIL line.
none() {  # none WHAT QUERY
    local rows
    rows=$(value -d "$db" -F ' | ' -c "$2")
    if [ -z "$rows" ]; then echo "  ok: $1 (none)"; else
        fail "$1:"; echo "$rows" | head -20 | sed 's/^/        /'; fi
}

createdb "$db"
sql -d "$db" -f "$here/hostile_input.sql" >/dev/null
setup_seconds=$((SECONDS - started))

echo "coverage"
none "functions of schema iam the suite has no contract for" \
    "SELECT signature FROM hostile.tested
     WHERE oid NOT IN (SELECT to_regprocedure(signature) FROM hostile.contract WHERE to_regprocedure(signature) IS NOT NULL)"
none "argument types without hostile values" \
    "SELECT DISTINCT f.signature, t FROM hostile.tested AS f, unnest(f.argtypes) AS t
     WHERE t NOT IN (SELECT type FROM hostile.value)"
none "routines of schema iam that are neither functions nor trigger functions" \
    "SELECT signature, kind FROM hostile.func WHERE kind <> 'f'"
stale=$(value -d "$db" -c "SELECT string_agg(signature, ', ') FROM hostile.contract WHERE to_regprocedure(signature) IS NULL")
[ -z "$stale" ] || echo "  note: contracts for functions this version does not have: $stale"
echo "  $(value -d "$db" -c "SELECT count(*) FROM hostile.tested") functions under test:" \
    "$(value -d "$db" -c "SELECT string_agg(name, ', ' ORDER BY name) FROM (SELECT DISTINCT name FROM hostile.tested) AS n")"
calls=$(value -d "$db" -c "SELECT count(*) FROM hostile.call")
echo "  $calls calls: $(value -d "$db" -c "SELECT string_agg(pass || ' ' || n, ', ' ORDER BY min) FROM
    (SELECT pass, count(*) AS n, min(id) FROM hostile.call GROUP BY pass) AS p")"

# Two sessions share the calls; each keeps one backend for all of its own.
session_settings="SET client_min_messages = warning; SET synchronous_commit = off;
    SET statement_timeout = '10min'; SET iam.last_used_interval = 0;
    SET log_min_messages = fatal; SET log_min_error_statement = panic;"
run_share() {  # run_share SHARE SHARES
    value -d "$db" <<SQL
$session_settings
SELECT pg_backend_pid() \gset before_
CALL hostile.run($1, $2);
SELECT pg_backend_pid() = :before_pg_backend_pid AS same_backend;
SQL
}
echo "calling"
run_started=$SECONDS
run_share 0 2 >"$work/share1.out" 2>&1 &
share1=$!
run_share 1 2 >"$work/share2.out" 2>&1 &
share2=$!
status=0
wait "$share1" || status=1
wait "$share2" || status=1
for share in 1 2; do
    if [ "$(tail -1 "$work/share$share.out")" != t ]; then
        fail "session $share did not finish in one backend:"; sed 's/^/        /' "$work/share$share.out" | tail -5
    fi
    # A resource a call forgot to release is reported when its subtransaction
    # commits.
    if grep -Ei 'leak|not closed|still referenced|still pinned' "$work/share$share.out" | head -5 | grep -q .; then
        fail "session $share reported leaks:"; grep -Ei 'leak|not closed|still referenced|still pinned' "$work/share$share.out" |
            head -5 | sed 's/^/        /'
    fi
    rm -f "$work/share$share.out"
done
[ $status -eq 0 ] || fail "a calling session failed"
call_seconds=$((SECONDS - run_started))
echo "  $calls calls in $call_seconds s"

echo "outcomes"
check "calls with an outcome" "$calls" "SELECT count(*) FROM hostile.outcome"
none "calls that answered XX000" \
    "SELECT c.id, c.caller, c.signature, c.value_label, o.message FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     WHERE o.sqlstate = 'XX000'"
none "literals PostgreSQL refuses that did not give that input error" \
    "SELECT c.id, c.caller, c.signature, c.value_label, c.input_error, o.sqlstate, o.message
     FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     WHERE c.input_error IS NOT NULL AND o.sqlstate <> c.input_error"
none "calls that answered a SQLSTATE their function does not document" \
    "SELECT c.id, c.pass, c.caller, left(c.setting, 60), c.signature, c.position, c.value_label, o.code, o.message
     FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     WHERE c.input_error IS NULL AND o.code <> 'ok' AND o.code <> ALL (c.allowed)
     ORDER BY c.id LIMIT 40"
none "PostgREST-format errors outside a PostgREST request, for other codes, or not in PostgREST's JSON" \
    "SELECT c.id, c.caller, c.setting, c.signature, o.code, o.pgrst_valid, o.message
     FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     LEFT JOIN hostile.setting AS s ON s.label = c.setting AND c.pass = 'settings'
     WHERE o.sqlstate = 'PGRST' AND (coalesce(s.method, '') = '' OR o.code NOT IN ('P0002', '28000', '53400') OR NOT o.pgrst_valid)"
none "failing calls after which a row count differs" \
    "SELECT c.id, c.caller, c.signature, c.value_label, o.sqlstate FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     WHERE o.counts_changed"
none "failing calls that left an identity or a setting behind" \
    "SELECT c.id, c.caller, c.setting, c.signature, o.sqlstate FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     WHERE o.identity_changed"
# iam.raise_not_found's message is its argument.
none "errors of ours whose message is longer than 1,000 bytes" \
    "SELECT c.id, c.signature, c.position, c.value_label, o.sqlstate, o.message_bytes
     FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id
     WHERE c.input_error IS NULL AND o.message_bytes > 1000 AND c.signature NOT LIKE 'iam.raise_not_found(%'"
none "settings under which iam.current_user_id() is not who the settings name" \
    "SELECT s.label, coalesce(o.sqlstate, 'no call'), o.result, s.expect_user FROM hostile.setting AS s
     JOIN hostile.call AS c ON c.setting = s.label AND c.signature = 'iam.current_user_id()'
     LEFT JOIN hostile.outcome AS o ON o.call_id = c.id
     WHERE NOT (s.authenticate AND s.expect_auth <> 'ok')
       AND (o.sqlstate IS DISTINCT FROM 'ok' OR coalesce(o.result, '') <> s.expect_user)"
none "settings under which iam.current_user_id() and Supabase's auth.uid() disagree (but for the documented nesting limit)" \
    "SELECT s.label, s.expect_user, hostile.auth_uid(s.claims, s.claim_sub) FROM hostile.setting AS s
     WHERE NOT s.authenticate AND s.label <> 'claims: 5,000 deep, then sub'
       AND s.expect_user <> hostile.auth_uid(s.claims, s.claim_sub)"
none "headers for which iam.authenticate_request() did not answer as expected" \
    "SELECT s.label, c.caller, o.sqlstate, s.expect_auth FROM hostile.setting AS s
     JOIN hostile.call AS c ON c.setting = s.label AND c.signature = 'iam.authenticate_request()'
     JOIN hostile.outcome AS o ON o.call_id = c.id
     WHERE NOT s.authenticate AND o.code <> s.expect_auth"
none "API-key requests in which iam.has_permission() did not follow the key" \
    "SELECT s.label, c.caller, o.sqlstate, o.result FROM hostile.setting AS s
     JOIN hostile.call AS c ON c.setting = s.label AND c.signature = 'iam.has_permission(text)'
     JOIN hostile.outcome AS o ON o.call_id = c.id
     WHERE s.authenticate AND s.expect_auth = 'ok'
       AND o.result IS DISTINCT FROM CASE WHEN s.expect_user <> '' OR s.label LIKE 'headers: company key%'
                                          THEN 'true' ELSE 'false' END"
check "times code of ours ran a caller's = operator as a superuser" f \
    "SELECT is_called FROM hostile.ran_as_superuser"

# Regressions and known issues found by this suite, in a second database
# (its first API key is made here).
echo "regressions"
createdb "$regressions_db"
sql -d "$regressions_db" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id, full_name) VALUES ('a0000000-0000-4000-8000-0000000000a1', 'Alice');
CREATE TABLE made (label text, api_key text);
CREATE FUNCTION error_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
-- A first key that fails (unknown owner) after making the first pepper, in a
-- savepoint; then a key made in the same transaction.
BEGIN;
SAVEPOINT first_key;
DO $$ BEGIN
    PERFORM iam.create_api_key('fails', 'b1ad0000-0000-4000-8000-000000000000');
EXCEPTION WHEN no_data_found THEN NULL;
END $$;
ROLLBACK TO SAVEPOINT first_key;
INSERT INTO made SELECT 'after a failed first key', api_key FROM iam.create_api_key('k1', 'a0000000-0000-4000-8000-0000000000a1');
COMMIT;
-- A pepper rotation rolled back to a savepoint; then a key.
BEGIN;
SAVEPOINT rotation;
SELECT iam.rotate_api_key_pepper();
ROLLBACK TO SAVEPOINT rotation;
INSERT INTO made SELECT 'after a rolled-back rotation', api_key FROM iam.create_api_key('k2', 'a0000000-0000-4000-8000-0000000000a1');
COMMIT;
SQL
# In a new session, which has no pepper in memory.
check "keys made after a failed call in a savepoint that verify in another session" 2 \
    "SELECT count(*) FROM made, LATERAL iam.verify_api_key(made.api_key)" "$regressions_db"

check "the error for a key of a user and an unknown company" "P0002 the key's company does not exist" \
    "SELECT error_of(\$\$SELECT iam.create_api_key('k3', 'a0000000-0000-4000-8000-0000000000a1',
                                                 'b1ad0000-0000-4000-8000-000000000000')\$\$)" "$regressions_db"

# Redemption looks the typed text up as a vanity code first: a vanity code
# spelt like another user's generated code as people type it (a dash, lower
# case) would take its redemptions, so such a vanity code is refused.
squatted=$(value -d "$regressions_db" <<'SQL'
SET client_min_messages = warning;
INSERT INTO iam.users (id, full_name) VALUES ('a0000000-0000-4000-8000-0000000000d2', 'Gus');
SELECT code AS generated FROM iam.create_referral_code('a0000000-0000-4000-8000-0000000000a1') \gset
SELECT error_of(format('SELECT iam.create_referral_code(%L, %L)', 'a0000000-0000-4000-8000-0000000000d2',
                       lower(left(:'generated', 4) || '-' || substr(:'generated', 5))));
SQL
)
check_value "a vanity code spelt like another user's generated code" \
    "22023 this code reads as a generated referral code; choose another" "$squatted"

# The API-key context of a request ends with a rolled-back subtransaction
# that set it, like the role authenticate_request set.
after_rollback=$(value -d "$regressions_db" <<'SQL'
BEGIN;
SELECT set_config('request.headers', json_build_object('x-api-key', api_key)::text, true) FROM made LIMIT 1 \gset
DO $$ BEGIN
    PERFORM iam.authenticate_request();
    PERFORM 1 / 0;
EXCEPTION WHEN division_by_zero THEN NULL;
END $$;
SELECT coalesce(iam.current_user_id()::text, 'nobody');
COMMIT;
SQL
)
check_value "the caller after a rolled-back authenticate_request" nobody "$after_rollback"

# A parallel worker answers for the request's API key as the leader does: a
# per-row check (a column argument, not hoisted into an InitPlan) in a plan
# whose rows all go to workers.
parallel=$(value -d "$regressions_db" 2>&1 <<'SQL' || true
SET client_min_messages = warning;
INSERT INTO iam.companies (id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'Acme');
INSERT INTO iam.company_users (user_id, company_id) VALUES ('a0000000-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-00000000000a');
CREATE TABLE parallel_rows AS SELECT i, 'c0000000-0000-4000-8000-00000000000a'::uuid AS company_id FROM generate_series(1, 100000) AS i;
ANALYZE parallel_rows;
GRANT SELECT ON parallel_rows TO authenticated;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-api-key', api_key)::text, true) FROM made LIMIT 1 \gset
SET LOCAL ROLE anon;
SELECT iam.authenticate_request() \gset
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;  -- every row to a worker
SELECT count(*) FROM parallel_rows WHERE iam.is_company_member(company_id);
COMMIT;
SQL
)
check_value "rows an API-key request's per-row check lets through in parallel workers" 100000 \
    "$(tail -1 <<<"$parallel")"

echo "the server"
check "the server answers" 1 "SELECT 1" postgres
crashes=$(tail -c +$((log_start + 1)) "$log" |
    grep -E 'terminated by signal|server process .* (was terminated|exited with exit code)|PANIC|TRAP:|terminating any other active server processes|database system is in recovery mode' || true)
if [ -z "$crashes" ]; then echo "  ok: no crash, PANIC or failed assertion in the server log"; else
    fail "the server log shows:"; echo "$crashes" | head -20 | sed 's/^/        /'; fi

echo "figures"
value -d "$db" -F ' ' <<'SQL' | sed 's/^/  /'
SELECT format('%s hostile calls: %s returned a result, %s an error', count(*),
              count(*) FILTER (WHERE sqlstate = 'ok'), count(*) FILTER (WHERE sqlstate <> 'ok'))
FROM hostile.outcome;
SELECT format('  %s: %s', CASE WHEN sqlstate = 'PGRST' THEN 'PGRST (' || code || ')' ELSE sqlstate END, count(*))
FROM hostile.outcome WHERE sqlstate <> 'ok' GROUP BY sqlstate, code ORDER BY count(*) DESC;
SELECT format('slowest call: %s ms (%s, %s, %s)', o.ms, c.signature, c.value_label, c.caller)
FROM hostile.outcome AS o JOIN hostile.call AS c ON c.id = o.call_id ORDER BY o.ms DESC LIMIT 1;
SQL
echo "  runtime: $((SECONDS - started)) s (set-up $setup_seconds s, calls $call_seconds s, checks $((SECONDS - started - setup_seconds - call_seconds)) s)"

[ $failures -eq 0 ] || { echo "FAIL: $failures hostile-input check(s)"; exit 1; }
echo "PASS: hostile input: $calls calls of every iam function, each a result or a documented SQLSTATE, no XX000, nothing changed by a failure, no crash"
