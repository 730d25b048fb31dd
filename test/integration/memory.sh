#!/usr/bin/env bash
# Backend memory stays flat: each SQL function of iam_ext is called 100,000
# times in one backend (a statement per function), and the memory of all the
# backend's contexts (pg_backend_memory_contexts) after the calls must be
# within 1 MB of what it was after a warm-up of the same calls. Then one
# statement over 1,000,000 distinct users must hold no more than
# iam.check_memory per call site while it runs, within the memo and past it.
set -euo pipefail

db=iam_memory
calls=${IAM_MEMORY_CALLS:-100000}
source "$(dirname "$0")/../lib.sh"
trap 'dropdb --if-exists "$db" 2>/dev/null || true' EXIT
dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"

sql -d "$db" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id) VALUES ('a0000000-0000-4000-8000-0000000000a1');
INSERT INTO iam.companies (id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'Acme');
INSERT INTO iam.company_users (user_id, company_id) VALUES ('a0000000-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-00000000000a');
SELECT FROM iam.grant_role('a0000000-0000-4000-8000-0000000000a1', 'enterprise_admin');
CREATE TABLE memory_key AS SELECT api_key FROM iam.create_api_key('memory', 'a0000000-0000-4000-8000-0000000000a1', permissions => '["courses:*"]');
SELECT FROM iam.create_referral_code('a0000000-0000-4000-8000-0000000000a1', 'memory-code');
CREATE FUNCTION exercise(calls int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
    key text := (SELECT api_key FROM memory_key);
BEGIN
    PERFORM set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1"}', true);
    PERFORM set_config('request.headers', json_build_object('x-api-key', key)::text, true);
    PERFORM iam.current_user_id(), iam.has_role('enterprise_admin'), iam.has_any_role('{enterprise_admin,solo_learner}'::text[]),
            iam.roles_of(), iam.is_company_member('c0000000-0000-4000-8000-00000000000a'),
            iam.is_company_admin('c0000000-0000-4000-8000-00000000000a'), iam.current_company_ids(),
            iam.has_role('a0000000-0000-4000-8000-0000000000a1', 'platform_admin'),
            (SELECT count(*) FROM iam.verify_api_key(key)), iam.api_key_has_permission(key, 'courses:read'),
            iam.generate_referral_code(12), iam.normalize_vanity_code('memory-code'),
            iam.authenticate_request(), iam.has_permission('courses:read')
    FROM generate_series(1, calls);
END
\$\$;
SQL

# One backend: warm up, measure, call, measure.
result=$(sql -d "$db" -tA <<SQL
SET iam.last_used_interval = 3600;
SELECT exercise(1000);
SELECT sum(total_bytes) FROM pg_backend_memory_contexts \gset before_
SELECT exercise($calls);
SELECT exercise($calls);
SELECT sum(total_bytes) - :before_sum FROM pg_backend_memory_contexts;
SQL
)
growth=$(echo "$result" | tail -1)
echo "  14 functions x $((2 * calls)) calls in one backend: memory grew by $growth bytes"
[ "$growth" -lt 1048576 ] || { echo "FAIL: backend memory grew by $growth bytes"; exit 1; }

# The per-row checks remember the answers of a statement up to
# iam.check_memory per call site: one statement asking about 1,000,000
# distinct users (is_company_member about each, and has_role of a role held
# by 20,000, loaded at once) holds at most the bound per call site while it
# runs, each call site's memo reported as a context "iam check memo", and
# less than two bounds and 1 MB more than the same statement without the
# checks. Run at the bound 8 MB: a memo unbounded would hold 33 MB.
bound_kb=8192
during=$(sql -d "$db" -tA <<SQL
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
INSERT INTO iam.users (id) SELECT ('f0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid FROM generate_series(1, 20000) AS i;
INSERT INTO iam.user_roles (user_id, role_id)
SELECT ('f0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, (SELECT id FROM iam.roles WHERE name = 'solo_learner')
FROM generate_series(1, 20000) AS i;
SET iam.check_memory = '${bound_kb}kB';
SELECT sum(total_bytes) FROM pg_backend_memory_contexts \gset before_
-- The control: the same statement without the checks, for what the query
-- itself holds while it runs (the series, the CTE).
WITH checks AS MATERIALIZED (
    SELECT count(*) FILTER (WHERE u IS NOT NULL) AS members, count(*) FILTER (WHERE u IS NOT NULL) AS learners
    FROM (SELECT ('f0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid AS u FROM generate_series(1, 1000000) AS i) AS users)
SELECT (SELECT learners FROM checks) AS all_users, (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) - :before_sum AS control \gset
WITH checks AS MATERIALIZED (
    SELECT count(*) FILTER (WHERE iam.is_company_member('c0000000-0000-4000-8000-00000000000a', u)) AS members,
           count(*) FILTER (WHERE iam.has_role(u, 'solo_learner')) AS learners
    FROM (SELECT ('f0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid AS u FROM generate_series(1, 1000000) AS i) AS users)
SELECT (SELECT learners FROM checks), (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) - :before_sum - :control, :control,
       (SELECT max(total_bytes) FROM pg_backend_memory_contexts WHERE name = 'iam check memo'),
       (SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'iam check memo');
SQL
)
IFS='|' read -r learners held control memo memos <<<"$(tail -1 <<<"$during")"
echo "  one statement over 1,000,000 distinct users at iam.check_memory = $bound_kb kB: $learners learners found, $held bytes more than without the checks ($control), $memos memos, the largest $memo bytes"
[ "$learners" = 20000 ] || { echo "FAIL: the statement found $learners learners, expected 20000"; exit 1; }
[ "$memos" -ge 2 ] || { echo "FAIL: $memos memo contexts reported, expected one per call site"; exit 1; }
[ "$memo" -le $((bound_kb * 1024 + 65536)) ] || { echo "FAIL: a call site's memo holds $memo bytes, over the bound"; exit 1; }
[ "$held" -lt $((2 * bound_kb * 1024 + 1048576)) ] || { echo "FAIL: the statement held $held bytes more: the memo is not bounded"; exit 1; }
# Past what the memo holds, a role's holders and the active memberships go
# into the dense sets (and their filters), within the same bound: at 256 kB
# the memo holds 6,144 users, the 20,000 learners and 20,001 memberships
# do not fit in a set either. The answers stay exact.
small_kb=256
dense=$(sql -d "$db" -tA <<SQL
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
INSERT INTO iam.company_users (user_id, company_id)
SELECT ('f0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'c0000000-0000-4000-8000-00000000000a'
FROM generate_series(1, 20000) AS i;
SET iam.check_memory = '${small_kb}kB';
WITH checks AS MATERIALIZED (
    SELECT count(*) FILTER (WHERE iam.is_company_member('c0000000-0000-4000-8000-00000000000a', u)) AS members,
           count(*) FILTER (WHERE iam.has_role(u, 'solo_learner')) AS learners
    FROM (SELECT ('f0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid AS u FROM generate_series(1, 1000000) AS i) AS users)
SELECT (SELECT members FROM checks), (SELECT learners FROM checks),
       (SELECT max(total_bytes) FROM pg_backend_memory_contexts WHERE name = 'iam check memo');
SQL
)
IFS='|' read -r dense_members dense_learners dense_memo <<<"$(tail -1 <<<"$dense")"
echo "  the same at iam.check_memory = $small_kb kB: $dense_members members, $dense_learners learners found, the largest memo $dense_memo bytes"
[ "$dense_members" = 20000 ] || { echo "FAIL: found $dense_members members at $small_kb kB, expected 20000"; exit 1; }
[ "$dense_learners" = 20000 ] || { echo "FAIL: found $dense_learners learners at $small_kb kB, expected 20000"; exit 1; }
[ "$dense_memo" -le $((small_kb * 1024 + 65536)) ] || { echo "FAIL: a call site's memo holds $dense_memo bytes at $small_kb kB, over the bound"; exit 1; }
echo "PASS: backend memory flat after $((2 * calls * 14)) calls ($growth bytes); a 1,000,000-user statement held $held bytes, $memos memos, the largest $memo bytes, within $bound_kb kB each; at $small_kb kB the dense sets held the largest memo to $dense_memo bytes"
