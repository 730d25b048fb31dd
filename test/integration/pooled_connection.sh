#!/usr/bin/env bash
# What a pooled connection remembers, and when it forgets. A backend keeps
# which iam user another provider's subject is (one table read per subject,
# not per request) and the permission model's definitions iam.can() reads
# (the catalogue, the roles' grants); a session that keeps its connection
# sees another session's change from its next transaction, its own from its
# next statement, and forgets a change it rolled back; inside a transaction
# it sees the definitions its statements' snapshots see. In a parallel
# query the workers answer as the leader.
set -euo pipefail

db=iam_pooled_connection
source "$(dirname "$0")/../lib.sh"
work=$(mktemp -d)
trap 'exec 7>&- 2>/dev/null || true; rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
sql -d "$db" -q -o /dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id, full_name) VALUES ('a0000000-0000-4000-8000-0000000000a1', 'Alice'),
                                           ('a0000000-0000-4000-8000-0000000000a2', 'Vera');
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|alice', 'a0000000-0000-4000-8000-0000000000a1');
-- Vera, a member of Acme, holds the template learner, which may read courses.
INSERT INTO iam.companies (id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'Acme');
INSERT INTO iam.company_users (user_id, company_id) VALUES ('a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a');
INSERT INTO iam.permissions (name) VALUES ('courses:read');
INSERT INTO iam.company_roles (id, name) VALUES ('d0000000-0000-4000-8000-0000000000a1', 'learner');
INSERT INTO iam.company_role_permissions (company_role_id, permission) VALUES ('d0000000-0000-4000-8000-0000000000a1', 'courses:read');
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
VALUES ('a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-0000000000a1');
CREATE TABLE public.courses (id int, company_id uuid);
INSERT INTO public.courses SELECT i, 'c0000000-0000-4000-8000-00000000000a' FROM generate_series(1, 20000) AS i;
ALTER TABLE public.courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY courses_read ON public.courses FOR SELECT USING (iam.can('courses:read', company_id));
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
END $$;
GRANT SELECT ON public.courses TO authenticated;
ANALYZE public.courses;
SQL
claims='{"iss": "https://example.auth0.com/", "sub": "auth0|alice"}'

# The pooled session: one connection for the whole test, each request its
# own transaction that sets the claims, as PostgREST does.
mkfifo "$work/pooled"
sql -d "$db" -tA <"$work/pooled" >"$work/pooled.out" 2>&1 &
pooled_pid=$!
exec 7>"$work/pooled"
# An error (asked on purpose below) ends a transaction, not the session.
printf "\\set ON_ERROR_STOP 0\nSET iam.external_subjects = lookup;\n" >&7
request=0
ask() {  # ask [CLAIMS SQL]: in $answer, the pooled session's answer to SQL
         # (iam.current_user_id()) in a new request with CLAIMS (Alice's Auth0 token)
    local request_claims=${1:-$claims} question=${2:-"coalesce(iam.current_user_id()::text, 'nobody')"}
    request=$((request + 1))
    printf "BEGIN;\nSELECT set_config('request.jwt.claims', '%s', true) IS NULL;\nSELECT 'answer %s ' || %s;\nCOMMIT;\n" \
        "$request_claims" "$request" "$question" >&7
    wait_for_line "$work/pooled.out" "^answer $request "
    answer=$(sed -n "s/^answer $request //p" "$work/pooled.out")
}

failures=0
check() {  # check WHAT EXPECTED ACTUAL
    if [ "$3" = "$2" ]; then echo "  ok: $1 ($3)"; else
        echo "  FAIL: $1: expected $2, got $3"; failures=$((failures + 1)); fi
}
ask; check "a mapped subject is its user" a0000000-0000-4000-8000-0000000000a1 "$answer"
ask; check "... the next request too, from what the connection remembers" a0000000-0000-4000-8000-0000000000a1 "$answer"
sql -d "$db" -q -c "SELECT iam.unlink_external_identity('https://example.auth0.com/', 'auth0|alice')" >/dev/null
ask; check "another session unlinks: the next request is nobody" nobody "$answer"
sql -d "$db" -q -c "SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|alice', 'a0000000-0000-4000-8000-0000000000a2')" >/dev/null
ask; check "another session links it to Vera: the next request is Vera" a0000000-0000-4000-8000-0000000000a2 "$answer"
# In the pooled session itself: a link rolled back is forgotten.
printf "BEGIN;\nSELECT iam.unlink_external_identity('https://example.auth0.com/', 'auth0|alice') IS NULL;\nSELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|alice', 'a0000000-0000-4000-8000-0000000000a1') IS NULL;\nSELECT set_config('request.jwt.claims', '%s', true) IS NULL;\nSELECT 'inside ' || iam.current_user_id();\nROLLBACK;\n" "$claims" >&7
wait_for_line "$work/pooled.out" "^inside "
check "its own link counts from its next statement" a0000000-0000-4000-8000-0000000000a1 \
    "$(sed -n 's/^inside //p' "$work/pooled.out")"
ask; check "... and, rolled back, is forgotten" a0000000-0000-4000-8000-0000000000a2 "$answer"

vera='{"sub": "a0000000-0000-4000-8000-0000000000a2", "role": "authenticated"}'
can_read="iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000a')::text"
ask "$vera" "$can_read"; check "Vera may read Acme's courses, through the template learner" true "$answer"
ask "$vera" "$can_read"; check "... the next request too, from the definitions the connection remembers" true "$answer"
sql -d "$db" -q -c "DELETE FROM iam.company_role_permissions WHERE permission = 'courses:read'" >/dev/null
ask "$vera" "$can_read"; check "another session takes the grant from learner: the next request may not" false "$answer"
sql -d "$db" -q -c "INSERT INTO iam.company_role_permissions (company_role_id, permission) VALUES ('d0000000-0000-4000-8000-0000000000a1', 'courses:*')" >/dev/null
ask "$vera" "$can_read"; check "another session gives learner courses:*: the next request may" true "$answer"
sql -d "$db" -q -c "INSERT INTO iam.permissions (name) VALUES ('courses:edit')" >/dev/null
ask "$vera" "iam.can('courses:edit', 'c0000000-0000-4000-8000-00000000000a')::text"
check "another session registers courses:edit: the next request asks it (covered by courses:*)" true "$answer"
sql -d "$db" -q -c "DELETE FROM iam.permissions WHERE name = 'courses:edit'" >/dev/null
printf "BEGIN;\nSELECT set_config('request.jwt.claims', '%s', true) IS NULL;\nSELECT iam.can('courses:edit', 'c0000000-0000-4000-8000-00000000000a');\nROLLBACK;\nSELECT 'unregistered asked';\n" "$vera" >&7
wait_for_line "$work/pooled.out" "^unregistered asked"
check "... and unregisters it: the next request asking it is an error" 1 \
    "$(grep -c 'permission "courses:edit" does not exist' "$work/pooled.out")"
# Inside one transaction that already holds its locks (it takes no new one
# that would bring the invalidation in): READ COMMITTED sees another
# session's revocation at its next statement; REPEATABLE READ does not see
# another session's grant until it ends.
inside() {  # inside LABEL SQL: in $answer, the pooled session's answer to SQL, in its open transaction
    printf "SELECT '%s ' || (%s);\n" "$1" "$2" >&7
    wait_for_line "$work/pooled.out" "^$1 "
    answer=$(sed -n "s/^$1 //p" "$work/pooled.out")
}
printf "BEGIN;\nSELECT set_config('request.jwt.claims', '%s', true) IS NULL;\n" "$vera" >&7
inside rc-before "$can_read"
check "READ COMMITTED: Vera may read, in a transaction" true "$answer"
sql -d "$db" -q -c "DELETE FROM iam.company_role_permissions WHERE permission = 'courses:*'" >/dev/null
inside rc-after "$can_read"
check "... another session takes the grant: her transaction's next statement may not" false "$answer"
printf "COMMIT;\nBEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT set_config('request.jwt.claims', '%s', true) IS NULL;\n" "$vera" >&7
inside rr-before "$can_read"
check "REPEATABLE READ: Vera may not read, in a transaction" false "$answer"
sql -d "$db" -q -c "INSERT INTO iam.company_role_permissions (company_role_id, permission) VALUES ('d0000000-0000-4000-8000-0000000000a1', 'courses:*')" >/dev/null
inside rr-after "$can_read"
check "... another session gives the grant back: her snapshot still does not see it" false "$answer"
printf "COMMIT;\n" >&7
ask "$vera" "$can_read"; check "... her next transaction does" true "$answer"
# Parallel workers answer as the leader: they remember nothing, and read
# under the statement's snapshot.
printf "%s\n" "SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) IS NULL;" \
    "SET parallel_setup_cost = 0;" "SET parallel_tuple_cost = 0;" "SET min_parallel_table_scan_size = 0;" \
    "SET ROLE authenticated;" "SELECT set_config('request.jwt.claims', '$vera', false) IS NULL;" \
    "SELECT 'parallel ' || count(*) FROM public.courses;" "RESET ROLE;" >&7
wait_for_line "$work/pooled.out" "^parallel "
grep -A2 "ERROR" "$work/pooled.out" | grep -v "courses:edit" | sed 's/^/    /' || true
check "a parallel query's workers answer iam.can as the leader" 20000 "$(sed -n 's/^parallel //p' "$work/pooled.out")"
exec 7>&-
wait "$pooled_pid" || true

[ $failures -eq 0 ] || { echo "FAIL: $failures check(s)"; exit 1; }
echo "PASS: 18 checks: a pooled connection remembers subjects and definitions, and forgets them when they change"
