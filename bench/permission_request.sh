#!/usr/bin/env bash
# One PostgREST-shaped request per transaction, authenticated by an API key
# (role anon, the key in request.headers, iam.authenticate_request()), then
# one row read by primary key from a table with RLS, with pgbench -M
# prepared, 1 client:
#   member: USING (iam.is_company_member(company_id))
#   can:    USING (iam.can('courses:read', company_id))
# for the caller of bench/permission_checks.sql in 3 companies and the one
# in 500 (a company role of their own granting courses:read in every other
# company, another role in the rest; the key scoped to courses:read), a
# row of a company where they hold it. Each statement works out where the
# caller holds the permission afresh, so this is the whole cost of a check
# to one request. The four cases are mixed transaction by transaction in
# one pgbench run per round (mix_pgbench: they differ by microseconds, less
# than a shared machine drifts between runs). Run by bench/run.sh with PG*
# pointing at a scratch database; prints TPS and ratios.
set -euo pipefail
seconds=${IAM_BENCH_SECONDS:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

lib=$(dirname "$0")/lib
psql -X -q -v ON_ERROR_STOP=1 -v callers="$lib/permission_callers.sql" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
\i :callers

-- 100,000 courses over the 1,000 companies (company_id = id % 1000).
CREATE TABLE bench.member_courses (id int PRIMARY KEY, company_id uuid NOT NULL, title text NOT NULL);
INSERT INTO bench.member_courses SELECT i, bench.company(i % 1000), 'course ' || i FROM generate_series(1, 100000) AS i;
CREATE TABLE bench.can_courses (LIKE bench.member_courses INCLUDING ALL);
INSERT INTO bench.can_courses SELECT * FROM bench.member_courses;
GRANT SELECT ON bench.member_courses, bench.can_courses TO authenticated;
ALTER TABLE bench.member_courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY members ON bench.member_courses FOR SELECT TO authenticated USING (iam.is_company_member(company_id));
ALTER TABLE bench.can_courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON bench.can_courses FOR SELECT TO authenticated USING (iam.can('courses:read', company_id));
VACUUM ANALYZE bench.member_courses, bench.can_courses;
SQL
# Each key verified once: the timed runs stay within iam.last_used_interval
# and measure the check, not a write of last_used_at.
psql -X -q -At -c "SELECT count(v.key_id) FROM bench.keys AS b, LATERAL iam.verify_api_key(b.api_key) AS v" >/dev/null

for n in 3 500; do
    key=$(psql -X -At -c "SELECT api_key FROM bench.keys WHERE companies = $n")
    # A course of a company where the caller holds courses:read: companies
    # 0, 2, 4, ... below n.
    for variant in member can; do
        cat >"$work/${variant}_$n.sql" <<SCRIPT
\set k random(1, 99)
\set c random(0, $(((n - 1) / 2)))
\set id 1000 * :k + 2 * :c
BEGIN;
SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '', true),
       set_config('request.method', 'GET', true), set_config('request.path', '/${variant}_courses', true),
       set_config('request.headers', '{"x-api-key": "$key"}', true);
SELECT iam.authenticate_request();
SELECT title FROM bench.${variant}_courses WHERE id = :id;
COMMIT;
SCRIPT
    done
done
# Every case finds its row.
for script in "$work"/*.sql; do
    found=$(sed -e 's/:id/1002/' -e '/^\\set/d' "$script" | psql -X -q -At -v ON_ERROR_STOP=1 | grep -c '^course 1002$' || true)
    [ "$found" = 1 ] || { echo "permission_request: $(basename "$script") does not read its row" >&2; exit 1; }
done

source "$lib/pgbench.sh"
mix_pgbench 5 "-c iam.last_used_interval=3600" "-c 1" \
    member_3 "$work/member_3.sql" can_3 "$work/can_3.sql" member_500 "$work/member_500.sql" can_500 "$work/can_500.sql"
psql -X -q -c "SET client_min_messages = warning" -c "DELETE FROM iam.api_keys WHERE user_id::text LIKE 'b7000000-%'" \
    -c "DELETE FROM iam.users WHERE id::text LIKE 'b7000000-%'" -c "DELETE FROM iam.companies WHERE id::text LIKE 'c7000000-%'" \
    -c "DROP SCHEMA bench CASCADE"

echo "one request with a key per transaction, pgbench -M prepared, 1 client, the cases mixed at random in each round (TPS from their mean latency), rounds: $(wc -w <<<"${tps_rounds[member_3]}") x ${seconds}s"
report_pgbench member_3 member_3 "is_company_member, 3 companies" can_3 "can, 3 companies"
report_pgbench member_500 member_500 "is_company_member, 500 companies" can_500 "can, 500 companies"
# TPS of can over is_company_member is the member's time over can's.
target "request with a key and a permission check, can x is_company_member (TPS), 3 companies" member_3 can_3 ">=" 0.9
target "request with a key and a permission check, can x is_company_member (TPS), 500 companies" member_500 can_500 ">=" 0.9
