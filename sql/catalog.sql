-- The catalog of the installed extension, every definition one sorted line
-- (test/integration/schema_fingerprint.sql): tables and their columns with
-- positions, constraints, indexes, triggers, policies, functions with their
-- bodies, privileges, comments, what pg_dump keeps and the extension's
-- members. Any change to any of them shows up here as a diff, to be read in
-- review and accepted on purpose. The API roles and Supabase Auth's role are
-- created first, so that their privileges are part of it whatever ran before.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
        CREATE ROLE supabase_auth_admin NOLOGIN;
    END IF;
END
$$;
SELECT FROM iam.apply_grants();
RESET client_min_messages;
\pset format unaligned
\pset tuples_only on
\i test/integration/schema_fingerprint.sql
