-- Subjects of other identity providers (0.8.0): a JWT whose "sub" is not a
-- UUID names the iam user iam.external_identities maps (issuer, subject)
-- to, with iam.external_subjects on. The tokens are shaped as Auth0's access
-- tokens and Clerk's session tokens (version 2) are documented: Auth0's
-- issuer is its tenant's URL with a trailing slash and its subject
-- "auth0|<id>"; Clerk's issuer its Frontend API URL and its subject
-- "user_<id>". Neither carries a "role" claim of PostgREST's unless the
-- application adds one; here PostgREST's role is set as it would be then.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse
\i test/fixtures/people.sql
\set auth0_alice '{"iss": "https://example.auth0.com/", "sub": "auth0|6553da60a54af58e29493993", "aud": ["https://api.example.com", "https://example.auth0.com/userinfo"], "iat": 1700000000, "exp": 1700086400, "azp": "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja", "scope": "openid profile email", "role": "authenticated"}'
\set clerk_pam '{"azp": "https://app.example.com", "exp": 1713158400, "fva": [7, -1], "iat": 1713158340, "iss": "https://clean-mayfly-62.clerk.accounts.dev", "nbf": 1713158330, "sid": "sess_2lrRUXhwMaUbmAzMeaLXWm4J0wJ", "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "v": 2, "role": "authenticated"}'
CREATE FUNCTION pg_temp.with_claims(claims text) RETURNS boolean LANGUAGE sql AS $$
    SELECT set_config('request.jwt.claims', claims, false) IS NOT NULL
$$;
GRANT EXECUTE ON FUNCTION pg_temp.with_claims(text) TO PUBLIC;

-- Off, the default: a subject that is not a UUID is nobody, as before.
SHOW iam.external_subjects;
SHOW iam.jwt_issuer_claim;
SET ROLE authenticated;
SELECT pg_temp.with_claims(:'auth0_alice') AS auth0_alice;
SELECT iam.current_user_id() AS off_is_nobody;
RESET ROLE;

-- The service role links Alice's Auth0 identity and Pam's Clerk identity.
SET ROLE service_role;
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|6553da60a54af58e29493993', pg_temp.person('Alice')) AS alice_linked;
SELECT iam.link_external_identity('https://clean-mayfly-62.clerk.accounts.dev', 'user_2NNEqL2nrIRdJ194ndJqAHwEfxC', pg_temp.person('Pam')) AS pam_linked;
-- Again, to the same user: nothing to do.
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|6553da60a54af58e29493993', pg_temp.person('Alice')) AS alice_again;
RESET ROLE;
SELECT action, actor_role, target_user_id = pg_temp.person('Alice') AS is_alice, new_row ->> 'subject' AS subject
FROM iam.audit_log WHERE action LIKE 'identity_%' ORDER BY id;

-- Looked up: the mapped subjects are their users for every check and policy.
SET iam.external_subjects = lookup;
SET ROLE authenticated;
SELECT pg_temp.with_claims(:'auth0_alice') AS auth0_alice;
SELECT iam.current_user_id() = pg_temp.person('Alice') AS is_alice,
       iam.has_role('solo_learner') AS solo_learner, iam.has_role('platform_admin') AS platform_admin,
       iam.is_company_member('c0000000-0000-4000-8000-00000000000a') AS in_acme,
       iam.is_company_member('c0000000-0000-4000-8000-00000000000b') AS in_globex;
SELECT email FROM iam.users;
SELECT issuer, subject FROM iam.external_identities;
SELECT name FROM iam.companies;
-- Once per change of the claims: every row of a statement sees one answer.
SELECT count(*) FILTER (WHERE iam.current_user_id() = pg_temp.person('Alice')) AS rows_as_alice
FROM generate_series(1, 1000);
SELECT iam.authenticate_request() IS NOT NULL AS pre_request_passes;
SELECT pg_temp.with_claims(:'clerk_pam') AS clerk_pam;
SELECT iam.current_user_id() = pg_temp.person('Pam') AS is_pam,
       iam.has_role('platform_admin') AS platform_admin,
       iam.is_company_member('c0000000-0000-4000-8000-00000000000a') AS in_acme;
SELECT count(*) AS users_pam_sees FROM iam.users;
SELECT count(*) AS identities_pam_sees FROM iam.external_identities;

-- Unknown subjects are anonymous: another subject, the same subject from
-- another tenant, the issuer spelt differently (no trailing slash), no
-- issuer at all, an issuer that is not a string.
SELECT pg_temp.with_claims('{"iss": "https://example.auth0.com/", "sub": "auth0|000000000000000000000000", "role": "authenticated"}') AS unknown_subject;
SELECT iam.current_user_id() AS nobody, iam.has_role('solo_learner') AS solo_learner;
SELECT count(*) AS users_seen FROM iam.users;
SELECT pg_temp.with_claims('{"iss": "https://other.auth0.com/", "sub": "auth0|6553da60a54af58e29493993"}') AS other_tenant;
SELECT iam.current_user_id() AS nobody;
SELECT pg_temp.with_claims('{"iss": "https://example.auth0.com", "sub": "auth0|6553da60a54af58e29493993"}') AS no_trailing_slash;
SELECT iam.current_user_id() AS nobody;
SELECT pg_temp.with_claims('{"sub": "auth0|6553da60a54af58e29493993"}') AS no_issuer;
SELECT iam.current_user_id() AS nobody;
SELECT pg_temp.with_claims('{"iss": ["https://example.auth0.com/"], "sub": "auth0|6553da60a54af58e29493993"}') AS issuer_not_a_string;
SELECT iam.current_user_id() AS nobody;
-- A UUID subject is the user id itself, as before, whatever the mapping.
SELECT pg_temp.with_claims('{"iss": "https://example.auth0.com/", "sub": "a0000000-0000-4000-8000-0000000000d1"}') AS uuid_subject;
SELECT iam.current_user_id() = pg_temp.person('Nina') AS is_nina;
RESET ROLE;

-- Another claim may name the provider (superuser setting).
SET iam.jwt_issuer_claim = 'azp';
SET ROLE authenticated;
SELECT pg_temp.with_claims(:'clerk_pam') AS clerk_pam;
SELECT iam.current_user_id() AS azp_is_not_mapped;
RESET ROLE;
RESET iam.jwt_issuer_claim;
SET iam.jwt_issuer_claim = '';
SET ROLE authenticated;
SET iam.external_subjects = off;
SET iam.jwt_issuer_claim = 'iss';
RESET ROLE;

-- A link or unlink counts from the next statement of the same session.
SET ROLE authenticated;
SELECT pg_temp.with_claims('{"iss": "https://example.auth0.com/", "sub": "auth0|5f7c8ec7c33c6c004bbafe82", "role": "authenticated"}') AS auth0_vera;
SELECT iam.current_user_id() AS not_yet;
RESET ROLE;
BEGIN;
SET LOCAL ROLE service_role;
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|5f7c8ec7c33c6c004bbafe82', pg_temp.person('Vera')) AS vera_linked;
SELECT iam.current_user_id() = pg_temp.person('Vera') AS now_vera;
SELECT iam.unlink_external_identity('https://example.auth0.com/', 'auth0|5f7c8ec7c33c6c004bbafe82') AS vera_unlinked;
SELECT iam.current_user_id() AS nobody_again;
ROLLBACK;

-- Bad input: 22023, and nothing changes (no mapping, no audit row).
SELECT count(*) AS identities_before FROM iam.external_identities;
SELECT max(id) AS audit_before FROM iam.audit_log \gset
SET ROLE service_role;
SELECT iam.link_external_identity(NULL, 'auth0|1', pg_temp.person('Gus'));
SELECT iam.link_external_identity('', 'auth0|1', pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://example.auth0.com/', '', pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://example.auth0.com/', NULL, pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://example.auth0.com/', repeat('x', 1025), pg_temp.person('Gus'));
SELECT iam.link_external_identity(repeat('x', 1025), 'auth0|1', pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://example.auth0.com/', 'a0000000-0000-4000-8000-0000000000d2', pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|1', NULL);
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|1', 'a0000000-0000-4000-8000-0000000000ff');
SELECT iam.link_external_identity('https://example.auth0.com/', 'auth0|6553da60a54af58e29493993', pg_temp.person('Gus'));
SELECT iam.unlink_external_identity(NULL, 'auth0|1');
-- The table's own constraints hold for plain SQL too.
INSERT INTO iam.external_identities (issuer, subject, user_id) VALUES ('', 'auth0|1', pg_temp.person('Gus'));
INSERT INTO iam.external_identities (issuer, subject, user_id) VALUES ('https://example.auth0.com/', 'auth0|1', 'a0000000-0000-4000-8000-0000000000ff');
RESET ROLE;
SELECT count(*) AS identities_after FROM iam.external_identities;
SELECT count(*) AS audit_rows_written FROM iam.audit_log WHERE id > :audit_before;

-- Who may write the mapping. anon: nothing.
SELECT pg_temp.as_user(NULL);
SELECT count(*) FROM iam.external_identities;
INSERT INTO iam.external_identities (issuer, subject, user_id) VALUES ('https://x.test/', 'u1', pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://x.test/', 'u1', pg_temp.person('Gus'));
SELECT iam.unlink_external_identity('https://example.auth0.com/', 'auth0|6553da60a54af58e29493993');
-- A user reads their own, and neither links (that would be taking over
-- someone's identity at the provider) nor unlinks.
SELECT pg_temp.as_user('Alice');
SELECT issuer, subject FROM iam.external_identities;
INSERT INTO iam.external_identities (issuer, subject, user_id) VALUES ('https://x.test/', 'u1', pg_temp.person('Alice'));
UPDATE iam.external_identities SET user_id = pg_temp.person('Alice');
DELETE FROM iam.external_identities;
SELECT iam.link_external_identity('https://x.test/', 'u1', pg_temp.person('Alice'));
SELECT iam.unlink_external_identity('https://example.auth0.com/', 'auth0|6553da60a54af58e29493993');
-- With row_security off, RLS refuses instead of filtering.
SET row_security = off;
SELECT count(*) FROM iam.external_identities;
RESET row_security;
-- support_agent reads them all, changes none.
SELECT pg_temp.as_user('Sam');
SELECT count(*) AS sam_reads FROM iam.external_identities;
DELETE FROM iam.external_identities;
-- A platform admin reads and unlinks, never links.
SELECT pg_temp.as_user('Pat');
SELECT count(*) AS pat_reads FROM iam.external_identities;
INSERT INTO iam.external_identities (issuer, subject, user_id) VALUES ('https://x.test/', 'u1', pg_temp.person('Gus'));
SELECT iam.link_external_identity('https://x.test/', 'u1', pg_temp.person('Gus'));
BEGIN;
SELECT iam.unlink_external_identity('https://example.auth0.com/', 'auth0|6553da60a54af58e29493993') AS pat_unlinks;
DELETE FROM iam.external_identities RETURNING subject AS pat_deletes;
ROLLBACK;
-- The service role writes, with row_security on or off.
SELECT pg_temp.as_user(NULL);
RESET ROLE;
SET ROLE service_role;
BEGIN;
INSERT INTO iam.external_identities (issuer, subject, user_id) VALUES ('https://x.test/', 'u1', pg_temp.person('Gus'));
SET LOCAL row_security = off;
UPDATE iam.external_identities SET user_id = pg_temp.person('Nina') WHERE subject = 'u1';
DELETE FROM iam.external_identities WHERE subject = 'u1';
SELECT action FROM iam.audit_log WHERE new_row ->> 'subject' = 'u1' OR old_row ->> 'subject' = 'u1' ORDER BY id;
ROLLBACK;
RESET ROLE;
-- Only a superuser sets the settings.
SET ROLE authenticated;
SET iam.external_subjects = lookup;
SET iam.jwt_issuer_claim = 'azp';
RESET ROLE;

-- A banned user's external tokens are refused by the pre-request, as their
-- UUID tokens are.
SET iam.external_subjects = lookup;
UPDATE iam.users SET banned_until = now() + interval '1 day' WHERE id = pg_temp.person('Alice');
SET ROLE authenticated;
SELECT pg_temp.with_claims(:'auth0_alice') AS auth0_alice;
SELECT iam.authenticate_request();
RESET ROLE;
UPDATE iam.users SET banned_until = NULL WHERE id = pg_temp.person('Alice');

-- Provisioning on first sight, by the pre-request. Not with lookup alone,
-- not in a read-only transaction (PostgREST's GET): the subject stays
-- anonymous there.
\set clerk_new '{"azp": "https://app.example.com", "exp": 1713158400, "iat": 1713158340, "iss": "https://clean-mayfly-62.clerk.accounts.dev", "nbf": 1713158330, "sid": "sess_2lrRUXhwMaUbmAzMeaLXWm4J0wK", "sub": "user_2abcNewcomer000000000000000", "v": 2, "role": "authenticated"}'
SET ROLE authenticated;
SELECT pg_temp.with_claims(:'clerk_new') AS clerk_newcomer;
SELECT iam.authenticate_request() IS NOT NULL AS lookup_only, iam.current_user_id() AS nobody;
RESET ROLE;
SET iam.external_subjects = provision;
SET ROLE authenticated;
BEGIN READ ONLY;
SELECT iam.authenticate_request() IS NOT NULL AS read_only, iam.current_user_id() AS nobody;
COMMIT;
BEGIN;
SELECT iam.authenticate_request() IS NOT NULL AS provisioned;
SELECT iam.current_user_id() IS NOT NULL AS has_a_user, iam.has_role('solo_learner') AS no_roles_yet;
SELECT count(*) AS sees_own_row, bool_and(email IS NULL) AS no_email FROM iam.users;
SELECT theme FROM iam.user_settings;
SELECT issuer, subject FROM iam.external_identities;
COMMIT;
-- The next request finds the mapping: the same user, no second one.
BEGIN;
SELECT iam.authenticate_request() IS NOT NULL AS second_request;
SELECT iam.current_user_id() = (SELECT user_id FROM iam.external_identities) AS same_user;
COMMIT;
RESET ROLE;
SELECT count(*) AS newcomers FROM iam.external_identities WHERE subject = 'user_2abcNewcomer000000000000000';
SELECT action, actor_role FROM iam.audit_log WHERE new_row ->> 'subject' = 'user_2abcNewcomer000000000000000';
-- A subject already mapped is left as it is.
SET ROLE authenticated;
SELECT pg_temp.with_claims(:'auth0_alice') AS auth0_alice;
SELECT iam.authenticate_request() IS NOT NULL AS mapped_already, iam.current_user_id() = pg_temp.person('Alice') AS is_alice;
RESET ROLE;
SELECT count(*) AS users_now FROM iam.users;

-- Deleting a user deletes their mappings (and audits it).
DELETE FROM iam.users WHERE id = pg_temp.person('Pam');
SELECT issuer, subject FROM iam.external_identities ORDER BY subject;
SELECT action FROM iam.audit_log WHERE old_row ->> 'subject' = 'user_2NNEqL2nrIRdJ194ndJqAHwEfxC';

-- The next file starts from the tests' people again.
RESET iam.external_subjects;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims_cleared;
DELETE FROM iam.companies;
DELETE FROM iam.users;
