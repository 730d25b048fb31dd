-- The callers of the permission benchmarks (permission_checks.sql,
-- permission_request.sh): 1,000 companies (bench.company(0..999)), each with
-- two roles of its own, course_reader (courses:read and courses:edit) and
-- reporter (reports:view); a caller in 3 companies and one in 500
-- (bench.caller(3), bench.caller(500)), each holding course_reader in every
-- other company of theirs (0, 2, 4, ...) and reporter in the rest; and each
-- caller's key in bench.keys.
\ir api_roles.sql
GRANT USAGE ON SCHEMA bench TO anon, authenticated;
CREATE FUNCTION bench.company(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('c7000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.caller(companies int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('b7000000-0000-4000-8000-' || lpad(companies::text, 12, '0'))::uuid $$;
INSERT INTO iam.permissions (name) VALUES ('courses:read'), ('courses:edit'), ('reports:view') ON CONFLICT DO NOTHING;
INSERT INTO iam.companies (id, name) SELECT bench.company(i), 'Company ' || i FROM generate_series(0, 999) AS i;
INSERT INTO iam.users (id) VALUES (bench.caller(3)), (bench.caller(500));
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT bench.caller(n), bench.company(i), 'member' FROM unnest(ARRAY[3, 500]) AS n, generate_series(0, n - 1) AS i;
INSERT INTO iam.company_roles (company_id, name)
SELECT bench.company(i), r FROM generate_series(0, 999) AS i, unnest(ARRAY['course_reader', 'reporter']) AS r;
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT r.id, p FROM iam.company_roles r, unnest(ARRAY['courses:read', 'courses:edit']) AS p
WHERE r.name = 'course_reader' AND r.company_id::text LIKE 'c7000000-%'
UNION ALL
SELECT r.id, 'reports:view' FROM iam.company_roles r WHERE r.name = 'reporter' AND r.company_id::text LIKE 'c7000000-%';
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT cu.user_id, cu.company_id, r.id
FROM iam.company_users cu
JOIN iam.company_roles r ON r.company_id = cu.company_id
    AND r.name = CASE WHEN right(cu.company_id::text, 12)::int % 2 = 0 THEN 'course_reader' ELSE 'reporter' END
WHERE cu.user_id IN (bench.caller(3), bench.caller(500));
-- Each caller's key, narrower than their role: courses:read only.
CREATE TABLE bench.keys AS
SELECT n AS companies, k.api_key
FROM unnest(ARRAY[3, 500]) AS n,
LATERAL iam.create_api_key('bench reader', bench.caller(n), permissions => '["courses:read"]') AS k;
