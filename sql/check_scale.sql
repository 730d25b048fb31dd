-- The per-row checks at the bounds of iam.check_memory: a role's holders
-- just under, at and just over what a call site's memo holds, a caller whose
-- memberships exceed it, questions about other users past it, revocations
-- between statements, and one generic plan for three callers. Whatever the
-- path (the memo, the caller's companies, the kept index scans), the answers
-- are those of the tables.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
BEGIN;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
-- 64 kB holds 1,536 users (2,048 slots of 17 bytes, three quarters full,
-- with room for the half-size table while it grows), and 768 pairs.
SET LOCAL iam.check_memory = '64kB';
SHOW iam.check_memory;
SET LOCAL max_parallel_workers_per_gather = 0;

-- Made-up users, not the fixture's people: their claims are set by hand.
CREATE FUNCTION pg_temp.u(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('d1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.c(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('d2000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.users (id) SELECT pg_temp.u(i) FROM generate_series(1, 3100) AS i;

-- Roles held by 1,535, 1,536 and 1,537 users (the odd ones), asked about
-- 6,000 rows whose owners range over 3,100 users.
INSERT INTO iam.roles (name) VALUES ('scale_1535'), ('scale_1536'), ('scale_1537');
INSERT INTO iam.user_roles (user_id, role_id)
SELECT pg_temp.u(2 * i - 1), r.id FROM iam.roles r, generate_series(1, 1537) AS i
WHERE r.name LIKE 'scale_%' AND i <= substr(r.name, 7)::int;
CREATE TABLE owned (id int, owner uuid);
INSERT INTO owned SELECT i, pg_temp.u(1 + (i * 7) % 3100) FROM generate_series(1, 6000) AS i;
CREATE FUNCTION pg_temp.holding(role text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM owned o JOIN iam.user_roles ur ON ur.user_id = o.owner
    JOIN iam.roles r ON r.id = ur.role_id AND r.name = role
$$;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'scale_1535')) AS just_under,
       pg_temp.holding('scale_1535') AS expected FROM owned;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'scale_1536')) AS at_the_bound,
       pg_temp.holding('scale_1536') AS expected FROM owned;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'scale_1537')) AS just_over,
       pg_temp.holding('scale_1537') AS expected FROM owned;
-- A holder revoked is missing from the next statement, loaded or not.
DELETE FROM iam.user_roles WHERE user_id = pg_temp.u(1)
    AND role_id IN (SELECT id FROM iam.roles WHERE name IN ('scale_1536', 'scale_1537'));
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'scale_1536')) AS at_the_bound_after,
       pg_temp.holding('scale_1536') AS expected FROM owned;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'scale_1537')) AS just_over_after,
       pg_temp.holding('scale_1537') AS expected FROM owned;

-- Past what the memo holds, the holders go into a denser exact set: at
-- 64 kB it holds 3,839 (16 bytes each, and their buckets'). Past that each
-- holder gets the place of its row (7.5 bytes) and as many as then fit stay
-- in the set: a holder past the set is read at its place, without a
-- descent. Past what places hold (about 8,700 at 64 kB), those past them
-- go into a Bloom filter and are read by a descent. Roles held by 3,839,
-- 3,840, 6,000 and 12,000 users, asked about 24,000 rows whose owners range
-- over 12,000 users (the odd ones hold the first three roles; 12,000 odd
-- users of 24,000 the last, granted from the last, so that those loaded
-- last, past the places, own rows).
CREATE FUNCTION pg_temp.w(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('d3000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.users (id) SELECT pg_temp.w(i) FROM generate_series(1, 24000) AS i;
INSERT INTO iam.roles (name) VALUES ('dense_3839'), ('dense_3840'), ('dense_6000'), ('dense_12000');
INSERT INTO iam.user_roles (user_id, role_id)
SELECT pg_temp.w(2 * i - 1), r.id FROM iam.roles r, generate_series(1, 6000) AS i
WHERE r.name IN ('dense_3839', 'dense_3840', 'dense_6000') AND i <= substr(r.name, 7)::int;
INSERT INTO iam.user_roles (user_id, role_id)
SELECT pg_temp.w(2 * i - 1), r.id FROM iam.roles r, generate_series(12000, 1, -1) AS i
WHERE r.name = 'dense_12000';
CREATE TABLE owned_wide (id int, owner uuid);
INSERT INTO owned_wide SELECT i, pg_temp.w(1 + (i * 7) % 12000) FROM generate_series(1, 24000) AS i;
CREATE FUNCTION pg_temp.holding_wide(role text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM owned_wide o JOIN iam.user_roles ur ON ur.user_id = o.owner
    JOIN iam.roles r ON r.id = ur.role_id AND r.name = role
$$;
-- The B-tree descents each statement made (index scans of user_roles'
-- primary key in this transaction): the 256 users read one by one before
-- the holders are loaded, then none while every holder is in the set or
-- has a place; past the places, a few thousand (the rows of those in the
-- filter, and about 2% of the others).
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) AS scans \gset
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_3839')) AS all_in_the_set,
       pg_temp.holding_wide('dense_3839') AS expected FROM owned_wide;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) - :scans AS descents;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) AS scans \gset
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_3840')) AS one_past_the_set,
       pg_temp.holding_wide('dense_3840') AS expected FROM owned_wide;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) - :scans AS descents;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) AS scans \gset
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_6000')) AS far_past_the_set,
       pg_temp.holding_wide('dense_6000') AS expected FROM owned_wide;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) - :scans AS descents;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) AS scans \gset
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_12000')) AS past_the_places,
       pg_temp.holding_wide('dense_12000') AS expected FROM owned_wide;
SELECT pg_stat_get_xact_numscans('iam.user_roles_pkey'::regclass) - :scans BETWEEN 1000 AND 12000
    AS some_descents;
-- Holders revoked, among the first and the last read, are missing from the
-- next statement; a holder granted is there.
DELETE FROM iam.user_roles WHERE user_id IN (pg_temp.w(1), pg_temp.w(7679), pg_temp.w(11999))
    AND role_id IN (SELECT id FROM iam.roles WHERE name LIKE 'dense_%');
INSERT INTO iam.user_roles (user_id, role_id)
SELECT pg_temp.w(2), id FROM iam.roles WHERE name LIKE 'dense_%';
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_3839')) AS all_in_the_set_after,
       pg_temp.holding_wide('dense_3839') AS expected FROM owned_wide;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_3840')) AS one_past_the_set_after,
       pg_temp.holding_wide('dense_3840') AS expected FROM owned_wide;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_6000')) AS far_past_the_set_after,
       pg_temp.holding_wide('dense_6000') AS expected FROM owned_wide;
SELECT count(*) FILTER (WHERE iam.has_role(owner, 'dense_12000')) AS past_the_places_after,
       pg_temp.holding_wide('dense_12000') AS expected FROM owned_wide;

-- 2,001 companies, the last suspended. Ann is in 1,535 companies (under the
-- bound), Bob in 1,600 (over it), each an admin of every tenth, and each in
-- the suspended company; Bob's membership of company 5 is inactive. Cid is
-- in none.
INSERT INTO iam.companies (id, name) SELECT pg_temp.c(i), 'Scale ' || i FROM generate_series(0, 2000) AS i;
UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE id = pg_temp.c(2000);
INSERT INTO iam.company_users (user_id, company_id, role_in_company, is_active_in_company)
SELECT pg_temp.u(3001), pg_temp.c(i), CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'member' END, true
FROM generate_series(0, 1534) AS i
UNION ALL
SELECT pg_temp.u(3002), pg_temp.c(i), CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'member' END, i <> 5
FROM generate_series(0, 1599) AS i
UNION ALL
SELECT pg_temp.u(n), pg_temp.c(2000), 'admin', true FROM generate_series(3001, 3002) AS n;
-- 6,000 rows over the 2,001 companies.
CREATE TABLE tenant_rows (id int, company_id uuid);
INSERT INTO tenant_rows SELECT i, pg_temp.c(i % 2001) FROM generate_series(1, 6000) AS i;
CREATE TABLE member_rows AS SELECT * FROM tenant_rows;
CREATE TABLE any_rows AS SELECT * FROM tenant_rows;
CREATE TABLE admin_rows AS SELECT * FROM tenant_rows;
ALTER TABLE member_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON member_rows FOR SELECT USING (iam.is_company_member(company_id));
ALTER TABLE any_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON any_rows FOR SELECT USING (company_id = ANY (iam.current_company_ids()));
ALTER TABLE admin_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON admin_rows FOR SELECT USING (iam.is_company_admin(company_id));
GRANT SELECT ON member_rows, any_rows, admin_rows TO authenticated;

-- What each caller should see, from the tables.
CREATE VIEW expected AS
SELECT n AS caller,
       (SELECT count(*) FROM tenant_rows t JOIN iam.company_users cu ON cu.company_id = t.company_id
        JOIN iam.companies c ON c.id = t.company_id
        WHERE cu.user_id = pg_temp.u(n) AND cu.is_active_in_company AND c.current_iam_status = 'active'
          AND NOT c.is_deleted) AS member,
       (SELECT count(*) FROM tenant_rows t JOIN iam.company_users cu ON cu.company_id = t.company_id
        JOIN iam.companies c ON c.id = t.company_id
        WHERE cu.user_id = pg_temp.u(n) AND cu.is_active_in_company AND c.current_iam_status = 'active' AND NOT c.is_deleted
          AND cu.role_in_company = 'admin') AS admin
FROM generate_series(3001, 3003) AS n;
CREATE FUNCTION pg_temp.seen_by(n int, OUT member bigint, OUT any_form bigint, OUT admin bigint)
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object('sub', pg_temp.u(n), 'role', 'authenticated')::text, true);
    member := (SELECT count(*) FROM member_rows);
    any_form := (SELECT count(*) FROM any_rows);
    admin := (SELECT count(*) FROM admin_rows);
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.seen_by(int), pg_temp.u(int) TO authenticated;
SELECT * FROM expected ORDER BY caller;
SET LOCAL ROLE authenticated;
SELECT n AS caller, s.* FROM generate_series(3001, 3003) AS n, pg_temp.seen_by(n) AS s ORDER BY n;
RESET ROLE;

-- A membership and a company revoked between statements, under and over
-- the bound.
UPDATE iam.company_users SET is_active_in_company = false
WHERE company_id = pg_temp.c(10) AND user_id IN (pg_temp.u(3001), pg_temp.u(3002));
UPDATE iam.companies SET is_deleted = true WHERE id = pg_temp.c(20);
SELECT * FROM expected ORDER BY caller;
SET LOCAL ROLE authenticated;
SELECT n AS caller, s.* FROM generate_series(3001, 3003) AS n, pg_temp.seen_by(n) AS s ORDER BY n;
RESET ROLE;

-- Questions about other users: 4,002 pairs, past the 768 the memo holds.
-- After an eighth of company_users' rows read one by one (here about 390 of
-- its 3,137), is_company_member loads every active membership: at 64 kB some
-- fit in the dense set and the others are kept by their rows' places; at
-- 1 MB all of them fit in the set.
CREATE VIEW expected_pairs AS
SELECT count(*) FILTER (WHERE cu.is_active_in_company AND c.current_iam_status = 'active' AND NOT c.is_deleted) AS members,
       count(*) FILTER (WHERE cu.is_active_in_company AND c.current_iam_status = 'active' AND NOT c.is_deleted
                        AND cu.role_in_company = 'admin') AS admins
FROM iam.company_users cu JOIN iam.companies c ON c.id = cu.company_id
WHERE cu.user_id IN (pg_temp.u(3001), pg_temp.u(3002));
CREATE FUNCTION pg_temp.pairs(OUT members bigint, OUT admins bigint) LANGUAGE sql AS $$
SELECT count(*) FILTER (WHERE iam.is_company_member(pg_temp.c(i), pg_temp.u(n))),
       count(*) FILTER (WHERE iam.is_company_admin(pg_temp.c(i), pg_temp.u(n)))
FROM generate_series(3001, 3002) AS n, generate_series(0, 2000) AS i
$$;
SELECT * FROM pg_temp.pairs();
SELECT * FROM expected_pairs;
SET LOCAL iam.check_memory = '1MB';
SELECT * FROM pg_temp.pairs();
-- Here every membership fits in the set: after the first few hundred
-- pairs, is_company_member reads none (it read all 4,002, one descent
-- each, before the set; is_company_admin still does).
SELECT pg_stat_get_xact_numscans('iam.company_users_pkey'::regclass) AS scans \gset
SELECT count(*) FILTER (WHERE iam.is_company_member(pg_temp.c(i), pg_temp.u(n))) AS members
FROM generate_series(3001, 3002) AS n, generate_series(0, 2000) AS i;
SELECT pg_stat_get_xact_numscans('iam.company_users_pkey'::regclass) - :scans < 1000 AS few_descents;
-- At 64 kB the memberships past the set are read at their rows' places:
-- no descent after loading either.
SET LOCAL iam.check_memory = '64kB';
SELECT pg_stat_get_xact_numscans('iam.company_users_pkey'::regclass) AS scans \gset
SELECT count(*) FILTER (WHERE iam.is_company_member(pg_temp.c(i), pg_temp.u(n))) AS members
FROM generate_series(3001, 3002) AS n, generate_series(0, 2000) AS i;
SELECT pg_stat_get_xact_numscans('iam.company_users_pkey'::regclass) - :scans < 1000 AS few_descents;
SET LOCAL iam.check_memory = '1MB';
-- A membership deactivated and a company suspended between statements,
-- at both bounds.
UPDATE iam.company_users SET is_active_in_company = false
WHERE company_id = pg_temp.c(30) AND user_id = pg_temp.u(3001);
UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE id = pg_temp.c(40);
SELECT * FROM pg_temp.pairs();
SET LOCAL iam.check_memory = '64kB';
SELECT * FROM pg_temp.pairs();
SELECT * FROM expected_pairs;

-- One generic plan for three callers: each sees their own rows.
SET LOCAL plan_cache_mode = force_generic_plan;
SET LOCAL ROLE authenticated;
PREPARE seen AS SELECT (SELECT count(*) FROM member_rows) AS member, (SELECT count(*) FROM any_rows) AS any_form,
                       (SELECT count(*) FROM admin_rows) AS admin;
SELECT set_config('request.jwt.claims', json_build_object('sub', pg_temp.u(3002), 'role', 'authenticated')::text, true) IS NOT NULL AS bob;
EXECUTE seen;
SELECT set_config('request.jwt.claims', json_build_object('sub', pg_temp.u(3003), 'role', 'authenticated')::text, true) IS NOT NULL AS cid;
EXECUTE seen;
SELECT set_config('request.jwt.claims', json_build_object('sub', pg_temp.u(3001), 'role', 'authenticated')::text, true) IS NOT NULL AS ann;
EXECUTE seen;
DEALLOCATE seen;
RESET ROLE;
ROLLBACK;

-- A cursor's snapshot is older than the statements around it, and a
-- subtransaction rolled back takes back what it wrote: neither lends its
-- answers to another statement, under REPEATABLE READ too (where every
-- statement has the same snapshot but for its command). 6,000 holders of a
-- role and 3,000 memberships at 64 kB (past the sets, kept by place), asked
-- through PL/pgSQL functions, whose call sites last the transaction.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET LOCAL client_min_messages = warning;
SET LOCAL iam.check_memory = '64kB';
CREATE FUNCTION pg_temp.v(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('d4000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.k(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('c4000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.users (id) SELECT pg_temp.v(i) FROM generate_series(1, 12000) AS i;
INSERT INTO iam.roles (name) VALUES ('kept_6000');
INSERT INTO iam.user_roles (user_id, role_id)
SELECT pg_temp.v(2 * i - 1), r.id FROM iam.roles r, generate_series(1, 6000) AS i WHERE r.name = 'kept_6000';
INSERT INTO iam.companies (id, name) SELECT pg_temp.k(i), 'Kept ' || i FROM generate_series(0, 9) AS i;
INSERT INTO iam.company_users (user_id, company_id) SELECT pg_temp.v(i), pg_temp.k(i % 10) FROM generate_series(1, 3000) AS i;
-- Rows whose owners range over the 12,000 users (the odd ones hold the
-- role), and whose (member, company) pairs over 6,000 (the first 3,000 are
-- memberships).
CREATE TABLE kept_rows (owner uuid, member uuid, company_id uuid);
INSERT INTO kept_rows
SELECT pg_temp.v(1 + (i * 7) % 12000), pg_temp.v(1 + (i * 7) % 6000), pg_temp.k((1 + (i * 7) % 6000) % 10)
FROM generate_series(1, 24000) AS i;
CREATE FUNCTION pg_temp.holds(u uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS
    $$ BEGIN RETURN iam.has_role(u, 'kept_6000'); END $$;
CREATE FUNCTION pg_temp.member(c uuid, u uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS
    $$ BEGIN RETURN iam.is_company_member(c, u); END $$;
CREATE VIEW kept_expected AS
SELECT count(*) FILTER (WHERE EXISTS (SELECT FROM iam.user_roles ur JOIN iam.roles r ON r.id = ur.role_id
                                      WHERE ur.user_id = k.owner AND r.name = 'kept_6000')) AS holders,
       count(*) FILTER (WHERE EXISTS (SELECT FROM iam.company_users cu
                                      WHERE cu.user_id = k.member AND cu.company_id = k.company_id
                                        AND cu.is_active_in_company)) AS members
FROM kept_rows k;
CREATE VIEW kept_answers AS
SELECT count(*) FILTER (WHERE pg_temp.holds(owner)) AS holders,
       count(*) FILTER (WHERE pg_temp.member(company_id, member)) AS members
FROM kept_rows;
SELECT * FROM kept_answers;
SELECT * FROM kept_expected;
-- Inside a savepoint: 3,000 holders and 1,500 memberships more, then the
-- savepoint rolled back.
SAVEPOINT before_grants;
INSERT INTO iam.user_roles (user_id, role_id)
SELECT pg_temp.v(2 * i), r.id FROM iam.roles r, generate_series(1, 3000) AS i WHERE r.name = 'kept_6000';
UPDATE iam.company_users SET is_active_in_company = false WHERE user_id IN (SELECT pg_temp.v(i) FROM generate_series(1, 1500) AS i);
SELECT * FROM kept_answers;
SELECT * FROM kept_expected;
ROLLBACK TO SAVEPOINT before_grants;
SELECT * FROM kept_answers;
SELECT * FROM kept_expected;
-- A cursor opened before 3,000 holders are revoked and 1,500 memberships
-- end answers as of its opening; the statement after it as of its own.
DECLARE before_revoke CURSOR FOR SELECT * FROM kept_answers;
DELETE FROM iam.user_roles WHERE user_id IN (SELECT pg_temp.v(4 * i - 1) FROM generate_series(1, 3000) AS i);
UPDATE iam.company_users SET is_active_in_company = false WHERE user_id IN (SELECT pg_temp.v(i) FROM generate_series(1, 1500) AS i);
FETCH before_revoke;
SELECT * FROM kept_answers;
SELECT * FROM kept_expected;
ROLLBACK;
