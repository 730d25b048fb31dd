-- What a user who may not do something is told: a message in words, its
-- SQLSTATE and a hint, never RLS's "new row violates row-level security
-- policy" nor the statements the extension runs inside (CONTEXT shows only
-- the frames of the functions called).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\i test/fixtures/people.sql
CREATE FUNCTION public.my_company_key() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iam.create_api_key('mine', company_id => 'c0000000-0000-4000-8000-00000000000b');
    RETURN 'made';
END
$$;
\set SHOW_CONTEXT errors
\set VERBOSITY default
-- Carol is an admin of Acme; Alice a plain member of it.
SELECT pg_temp.as_user('Carol');
SELECT id AS carol_key FROM iam.create_api_key('carol''s') \gset
SELECT id AS acme_key FROM iam.create_api_key('acme''s', company_id => 'c0000000-0000-4000-8000-00000000000a') \gset
INSERT INTO iam.company_roles (company_id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'editor');
SELECT pg_temp.as_user('Alice');
SELECT id AS alice_key FROM iam.create_api_key('alice''s') \gset

-- A member asks for a company key; a user for a key of theirs in a company
-- they are not a member of.
SELECT * FROM iam.create_api_key('for acme', company_id => 'c0000000-0000-4000-8000-00000000000a');
SELECT * FROM iam.create_api_key('in globex', pg_temp.person('Alice'), 'c0000000-0000-4000-8000-00000000000b');
-- A member invites, and assigns a company role.
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'someone@example.test');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'editor');
-- A user revokes, rotates, limits someone else's key, or the company's.
SELECT iam.revoke_api_key(:'carol_key');
SELECT iam.revoke_api_key(:'acme_key');
SELECT * FROM iam.rotate_api_key(:'carol_key');
SELECT * FROM iam.rotate_api_key(:'acme_key', '1 day');
SELECT iam.set_api_key_credits(:'carol_key', 10);
-- Her own key's refill is for the service role and platform admins: the
-- write rule's message, without the UPDATE that met it.
SELECT iam.set_api_key_credits(:'alice_key', 10, 10, '1 day');
-- An admin who would leave the company without one: the rule's message,
-- without the UPDATE.
SELECT pg_temp.as_operator();
UPDATE iam.company_users SET role_in_company = 'member'
WHERE company_id = 'c0000000-0000-4000-8000-00000000000a' AND user_id <> pg_temp.person('Carol');
SELECT pg_temp.as_user('Carol');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Carol'), 'member');
SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Carol'));
-- The statements of the caller's own functions stay in CONTEXT: only the
-- extension's are left out.
SELECT public.my_company_key();
SELECT pg_temp.as_operator();
DROP FUNCTION public.my_company_key();
