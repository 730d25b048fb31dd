#!/usr/bin/env bash
# A pooled connection remembers which iam user another provider's subject
# is (one table read per subject, not per request), and forgets it when the
# mapping changes: a session that keeps its connection sees another
# session's unlink and link from its next transaction, and its own from its
# next statement; a rolled-back link is forgotten.
set -euo pipefail

db=iam_external_subjects
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
SQL
claims='{"iss": "https://example.auth0.com/", "sub": "auth0|alice"}'

# The pooled session: one connection for the whole test, each request its
# own transaction that sets the claims, as PostgREST does.
mkfifo "$work/pooled"
sql -d "$db" -tA <"$work/pooled" >"$work/pooled.out" 2>&1 &
pooled_pid=$!
exec 7>"$work/pooled"
printf "SET iam.external_subjects = lookup;\n" >&7
request=0
ask() {  # ask: the pooled session's iam.current_user_id() in a new request, in $answer
    request=$((request + 1))
    printf "BEGIN;\nSELECT set_config('request.jwt.claims', '%s', true) IS NULL;\nSELECT 'answer %s ' || coalesce(iam.current_user_id()::text, 'nobody');\nCOMMIT;\n" \
        "$claims" "$request" >&7
    for _ in $(seq 600); do grep -q "^answer $request " "$work/pooled.out" && break; sleep 0.05; done
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
for _ in $(seq 600); do grep -q "^inside " "$work/pooled.out" && break; sleep 0.05; done
check "its own link counts from its next statement" a0000000-0000-4000-8000-0000000000a1 \
    "$(sed -n 's/^inside //p' "$work/pooled.out")"
ask; check "... and, rolled back, is forgotten" a0000000-0000-4000-8000-0000000000a2 "$answer"
exec 7>&-
wait "$pooled_pid" || true

[ $failures -eq 0 ] || { echo "FAIL: $failures check(s)"; exit 1; }
echo "PASS: 6 checks: a pooled connection remembers a subject's user and forgets it when the mapping changes"
