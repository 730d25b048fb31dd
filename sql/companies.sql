-- Tenancy (0.7.0): admin rights per company (company_users.role_in_company),
-- membership by invitation and consent, a company keeps an admin, and what
-- its admins read of their members. The tests' people, and Carol (Acme's
-- admin) also a plain member of Globex, whose admin is Olga.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
INSERT INTO iam.company_users (user_id, company_id) VALUES (pg_temp.person('Carol'), 'c0000000-0000-4000-8000-00000000000b');
SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset

-- An admin of one company is a plain member of another: admin rights are
-- per company. The platform role enterprise_admin gives none by itself.
SELECT u.name, c.name AS company, iam.is_company_member(c.id, u.id) AS member, iam.is_company_admin(c.id, u.id) AS admin
FROM (VALUES ('Carol'), ('Olga'), ('Alice'), ('Remy'), ('Ivan')) AS u0 (name)
CROSS JOIN LATERAL (SELECT u0.name, pg_temp.person(u0.name) AS id) AS u
CROSS JOIN iam.companies AS c
WHERE iam.is_company_member(c.id, u.id) OR c.name = 'Acme' ORDER BY 1, 2;

-- As Carol: Globex is not hers to administer.
SELECT pg_temp.as_user('Carol');
SELECT company_id = 'c0000000-0000-4000-8000-00000000000a' AS acme, count(*) AS members
FROM iam.company_members GROUP BY 1 ORDER BY 1;
SELECT count(*) AS globex_memberships_she_sees FROM iam.company_users WHERE company_id = 'c0000000-0000-4000-8000-00000000000b';
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000b', email => 'someone@example.test');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Carol'), 'admin');
SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Olga'));
UPDATE iam.company_users SET role_in_company = 'admin' WHERE user_id = pg_temp.person('Carol');
SELECT company_id = 'c0000000-0000-4000-8000-00000000000a' AS acme, role_in_company
FROM iam.company_users WHERE user_id = pg_temp.person('Carol') ORDER BY 1;
-- Nor does she add people to Acme without their consent: she invites them.
SELECT iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Nina'));
INSERT INTO iam.company_users (user_id, company_id) VALUES (pg_temp.person('Nina'), 'c0000000-0000-4000-8000-00000000000a');
-- Of her members she reads the listed fields, through iam.company_members,
-- and nobody's profile row but her own.
SELECT email, full_name, role_in_company FROM iam.company_members
WHERE company_id = 'c0000000-0000-4000-8000-00000000000a' ORDER BY full_name;
SELECT full_name FROM iam.users ORDER BY 1;

-- The invitation: a token shown once, its hash kept; expiry 7 days.
SELECT invitation_id AS nina_invitation, token AS nina_token, expires_at AS nina_expiry
FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => ' Nina@Example.test ') \gset
SELECT :'nina_token' ~ '^inv_[0-9A-HJKMNP-TV-Z]{32}$' AS token_shape,
       :'nina_expiry'::timestamptz - now() BETWEEN interval '6 days 23 hours' AND interval '7 days' AS seven_days;
-- The default lifetime is a superuser's setting, iam.invitation_valid_for.
SET iam.invitation_valid_for = '1h';
SELECT pg_temp.as_operator();
\set VERBOSITY sqlstate
SET iam.invitation_valid_for = '91d';
\set VERBOSITY default
SET iam.invitation_valid_for = '1h';
SELECT pg_temp.as_user('Carol');
SELECT expires_at - now() BETWEEN interval '59 minutes' AND interval '1 hour' AS one_hour
FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'someone@example.test');
SELECT pg_temp.as_operator();
RESET iam.invitation_valid_for;
SELECT pg_temp.as_user('Carol');
SELECT invited_email, invited_user_id, role_in_company, invited_by = pg_temp.person('Carol') AS by_carol,
       accepted_at, revoked_at
FROM iam.company_invitations WHERE id = :'nina_invitation';
SELECT token_hash FROM iam.company_invitations;
-- Until Nina accepts, Carol sees nothing of her but the invitation.
SELECT count(*) AS nina_in_members FROM iam.company_members WHERE user_id = pg_temp.person('Nina');
SELECT count(*) AS nina_profile FROM iam.users WHERE id = pg_temp.person('Nina');

-- Someone else holding Nina's token gets what a guesser gets.
SELECT pg_temp.as_user('Gus');
SELECT iam.accept_company_invitation(:'nina_token');
CREATE FUNCTION pg_temp.accepting(token text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iam.accept_company_invitation(token);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT what, pg_temp.accepting(token) AS outcome
FROM (VALUES ('NULL', NULL), ('empty', ''), ('a guess', 'inv_' || repeat('0', 32)),
             ('a megabyte', repeat('x', 1000000)), ('Nina''s token, as Gus', :'nina_token')) AS t (what, token);

-- Nina has not confirmed her address: an invitation by email does not admit
-- her yet, and she cannot confirm it herself (column privilege).
SELECT pg_temp.as_user('Nina');
SELECT pg_temp.accepting(:'nina_token') AS unconfirmed;
UPDATE iam.users SET email_confirmed_at = now() WHERE id = pg_temp.person('Nina');
-- The service role confirms it (on Supabase, the sync copies
-- auth.users.email_confirmed_at).
SET ROLE service_role;
UPDATE iam.users SET email_confirmed_at = now() WHERE id = pg_temp.person('Nina');
RESET ROLE;

-- Nina accepts, as herself: a member of Acme, once.
SELECT pg_temp.as_user('Nina');
SELECT iam.accept_company_invitation(:'nina_token') = 'c0000000-0000-4000-8000-00000000000a' AS joined_acme;
SELECT iam.is_company_member('c0000000-0000-4000-8000-00000000000a') AS member,
       iam.is_company_admin('c0000000-0000-4000-8000-00000000000a') AS admin;
SELECT pg_temp.accepting(:'nina_token') AS accepting_again;
SELECT pg_temp.as_user('Carol');
SELECT email, role_in_company FROM iam.company_members WHERE user_id = pg_temp.person('Nina');
SELECT accepted_at IS NOT NULL AS accepted, accepted_by = pg_temp.person('Nina') AS by_nina
FROM iam.company_invitations WHERE id = :'nina_invitation';

-- An invitation by user id, to be an admin; one revoked; one expired.
SELECT token AS gus_token FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a',
    user_id => pg_temp.person('Gus'), role_in_company => 'admin') \gset
SELECT invitation_id AS revoked_invitation, token AS revoked_token
FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'sam@platform.test') \gset
SELECT iam.revoke_company_invitation(:'revoked_invitation') AS revoked,
       iam.revoke_company_invitation(:'revoked_invitation') AS revoked_again;
UPDATE iam.company_invitations SET revoked_at = NULL WHERE id = :'revoked_invitation';
SELECT invitation_id AS expiring_invitation, token AS expired_token
FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', user_id => pg_temp.person('Sam'),
                           valid_for => interval '1 hour') \gset
SELECT pg_temp.as_operator();
UPDATE iam.company_invitations SET expires_at = now() - interval '1 s' WHERE id = :'expiring_invitation';
SELECT pg_temp.as_user('Sam');
SELECT pg_temp.accepting(:'revoked_token') AS revoked, pg_temp.accepting(:'expired_token') AS expired;
SELECT pg_temp.accepting(:'gus_token') AS gus_token_as_sam;
SELECT pg_temp.as_user('Nina');
SELECT pg_temp.accepting(:'gus_token') AS gus_token_as_nina;
SELECT pg_temp.as_user('Gus');
SELECT pg_temp.accepting(:'gus_token') AS gus_accepts;
SELECT iam.is_company_admin('c0000000-0000-4000-8000-00000000000a') AS gus_is_admin;

-- A look-alike address: lower() folds U+212A KELVIN SIGN into k, the
-- comparison does not. Gus confirmed an address that reads as Kate's.
SELECT pg_temp.as_operator();
SELECT lower(U&'\212A') = 'k' AS lower_folds_kelvin;
UPDATE iam.users SET email = U&'\212Aate@example.test', email_confirmed_at = now() WHERE id = pg_temp.person('Gus');
SELECT pg_temp.as_user('Carol');
SELECT token AS kate_token FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'Kate@Example.test') \gset
SELECT token AS kelvin_token FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => U&'\212Aate@example.test') \gset
SELECT pg_temp.as_user('Gus');
SELECT pg_temp.accepting(:'kate_token') AS kate_invitation_as_gus;
-- A changed address is unconfirmed until confirmed anew.
SELECT pg_temp.as_operator();
UPDATE iam.users SET email = 'other@example.test' WHERE id = pg_temp.person('Gus');
UPDATE iam.users SET email = U&'\212Aate@example.test' WHERE id = pg_temp.person('Gus');
SELECT email_confirmed_at IS NULL AS unconfirmed_after_the_change FROM iam.users WHERE id = pg_temp.person('Gus');
SELECT pg_temp.as_user('Gus');
SELECT pg_temp.accepting(:'kelvin_token') AS its_own_address_unconfirmed;

-- An invitation is valid while its inviter administers the company: Alice,
-- made an admin, invites Sam to be one; demoted, her invitation admits
-- nobody; an admin again, it does.
SELECT pg_temp.as_user('Carol');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'admin') AS alice_admin;
SELECT pg_temp.as_user('Alice');
SELECT token AS alices_token FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a',
    user_id => pg_temp.person('Sam'), role_in_company => 'admin') \gset
SELECT pg_temp.as_user('Carol');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'member') AS alice_demoted;
SELECT pg_temp.as_user('Sam');
SELECT pg_temp.accepting(:'alices_token') AS inviter_no_longer_admin;
SELECT pg_temp.as_user('Carol');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'admin') AS alice_admin_again;
SELECT pg_temp.as_user('Sam');
SELECT pg_temp.accepting(:'alices_token') AS inviter_admin_again;
SELECT pg_temp.as_user('Carol');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Sam'), 'member') AS sam_member,
       iam.set_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'member') AS alice_member;

-- Inserted by plain SQL, an invitation keeps the function's bounds: no
-- lifetime past 90 days, a token_hash of the form, its inviter whoever
-- inserts it; once made it is only revoked or accepted.
SELECT pg_temp.as_user('Carol');
INSERT INTO iam.company_invitations (company_id, invited_email, token_hash, expires_at)
VALUES ('c0000000-0000-4000-8000-00000000000a', 'forever@example.test', repeat('a', 64), 'infinity');
INSERT INTO iam.company_invitations (company_id, invited_email, token_hash, expires_at)
VALUES ('c0000000-0000-4000-8000-00000000000a', 'chosen@example.test', 'my-token', now() + interval '1 day');
INSERT INTO iam.company_invitations (company_id, invited_email, token_hash, expires_at, invited_by)
VALUES ('c0000000-0000-4000-8000-00000000000a', U&'Direct\212A@Example.test', repeat('b', 64), now() + interval '1 day',
        pg_temp.person('Olga'))
RETURNING invited_email, invited_by = pg_temp.person('Carol') AS by_carol;
SET ROLE service_role;
UPDATE iam.company_invitations SET expires_at = 'infinity' WHERE token_hash = repeat('b', 64);
RESET ROLE;

-- Bad invitations change nothing.
SELECT pg_temp.as_user('Carol');
SELECT count(*) AS invitations_before FROM iam.company_invitations \gset
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a');
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', 'x@example.test', pg_temp.person('Gus'));
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'not an address');
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => repeat('x', 1000000) || '@example.test');
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'x@example.test', role_in_company => 'owner');
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'x@example.test', valid_for => interval '0');
SELECT * FROM iam.invite_to_company(NULL, email => 'x@example.test');
SELECT pg_temp.as_user('Alice');
SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', email => 'x@example.test');
INSERT INTO iam.company_invitations (company_id, invited_email, token_hash, expires_at)
VALUES ('c0000000-0000-4000-8000-00000000000a', 'x@example.test', repeat('0', 64), now() + interval '1 day');
SELECT pg_temp.as_user('Carol');
SELECT count(*) = :invitations_before AS nothing_changed FROM iam.company_invitations;

-- A company keeps an admin. Olga is Globex's only admin: she may not
-- leave or step down; with a second admin she may; a platform admin may
-- remove the last one.
SELECT pg_temp.as_user('Olga');
SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Olga'));
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Olga'), 'member');
BEGIN;
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Carol'), 'admin') AS carol_made_admin;
SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Olga')) AS olga_leaves;
ROLLBACK;
SELECT pg_temp.as_user('Pam');
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Olga'), 'member') AS pam_demotes_olga;
SELECT iam.set_company_role('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Nina'), 'admin');

-- The service role provisions members directly (SCIM-style).
SET ROLE service_role;
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
VALUES (pg_temp.person('Sam'), 'c0000000-0000-4000-8000-00000000000b', 'admin');
RESET ROLE;
SELECT pg_temp.as_operator();
SELECT user_id = pg_temp.person('Sam') AS sam, role_in_company FROM iam.company_users
WHERE company_id = 'c0000000-0000-4000-8000-00000000000b' AND role_in_company = 'admin';

-- Every invitation, acceptance and role change is audited, with the role
-- the caller acted as, the invitee's acceptance included.
SELECT a.action, coalesce(actor.name, '-') AS actor, a.actor_role, coalesce(target.name, '-') AS target,
       c.name AS company
FROM iam.audit_log AS a
LEFT JOIN pg_temp.people AS actor ON actor.id = a.actor_user_id
LEFT JOIN pg_temp.people AS target ON target.id = a.target_user_id
LEFT JOIN iam.companies AS c ON c.id = a.company_id
WHERE a.id > :audit_start ORDER BY a.id;

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
