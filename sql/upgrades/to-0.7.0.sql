-- The hand-written part of the upgrade from 0.6.0 to 0.7.0: what changes in
-- the tables (columns, constraints, indexes, data) and what goes away.
-- make appends the rest: every function, trigger, policy and view as
-- sql/schema/ defines it now (docs/development.md, "Changing SQL").
--
-- 0.7.0: the rules hold whichever way a row is written. An API key is never
-- more than its scope; a key's secret goes to its owner only; revocation is
-- final; referral codes and referrals keep their rules under direct SQL; the
-- built-in roles keep their names; every change to keys and to the role
-- catalogue is audited; banned and deleted Supabase users' keys stop
-- verifying; companies have admins and invitations; keys have credits and
-- rate limits.

------------------------------------------------------------------------------
-- New columns (appended: the C code reads the earlier ones by position).
------------------------------------------------------------------------------
ALTER TABLE iam.users ADD COLUMN banned_until timestamptz, ADD COLUMN deleted_at timestamptz;
COMMENT ON COLUMN iam.users.banned_until IS
    'On Supabase, auth.users.banned_until: the user''s API keys do not verify before then';
COMMENT ON COLUMN iam.users.deleted_at IS
    'On Supabase, auth.users.deleted_at (soft deletion): the user''s API keys no longer verify';

ALTER TABLE iam.api_keys ADD COLUMN created_by uuid, ADD COLUMN suspended_until timestamptz;
COMMENT ON COLUMN iam.api_keys.created_by IS
    'iam.current_user_id() of whoever created the key (set by the trigger guard_api_key); NULL for the service role or the operator';
COMMENT ON COLUMN iam.api_keys.suspended_until IS
    'The key does not verify before then: its user is banned (infinity once deleted); kept by iam.sync_user_from_auth';
-- Rotation with overlap: a grace during which the replaced key still verifies.
ALTER TABLE iam.api_keys ADD COLUMN replaces_key_id uuid REFERENCES iam.api_keys (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX api_keys_replaces_key_id_key ON iam.api_keys (replaces_key_id) WHERE replaces_key_id IS NOT NULL;
COMMENT ON COLUMN iam.api_keys.replaces_key_id IS
    'The key this one replaced by iam.rotate_api_key(key_id, grace), which keeps verifying until the grace ends';
-- Usage credits and a rate limit.
ALTER TABLE iam.api_keys
    ADD COLUMN remaining integer CONSTRAINT api_keys_remaining_check CHECK (remaining >= 0),
    ADD COLUMN refill_amount integer,
    ADD COLUMN refill_interval interval,
    ADD COLUMN refilled_at timestamptz,
    ADD COLUMN rate_limit integer,
    ADD COLUMN rate_limit_window interval;
COMMENT ON COLUMN iam.api_keys.remaining IS
    'Credits left: each request the key authenticates spends one (iam.consume_api_key: any cost); NULL for unlimited';
COMMENT ON COLUMN iam.api_keys.refill_amount IS
    'What remaining is set back to once refill_interval has passed since refilled_at; NULL for no refill';
COMMENT ON COLUMN iam.api_keys.refill_interval IS
    'How often remaining is refilled (''1 day'', ''1 month'', any interval); NULL for no refill';
COMMENT ON COLUMN iam.api_keys.refilled_at IS
    'When remaining was last set or refilled';
COMMENT ON COLUMN iam.api_keys.rate_limit IS
    'Requests the key may make per rate_limit_window, counted in shared memory (needs iam_ext in shared_preload_libraries); NULL for no limit';
COMMENT ON COLUMN iam.api_keys.rate_limit_window IS
    'The window of rate_limit, 1 second to 1 day';

ALTER TABLE iam.audit_log ALTER COLUMN target_user_id DROP NOT NULL,
    ADD COLUMN actor_api_key_id uuid;
COMMENT ON COLUMN iam.audit_log.target_user_id IS
    'The user whose role, membership or key changed (no foreign key: the trail outlives the user); NULL for a role of the catalogue or a company''s key';
COMMENT ON COLUMN iam.audit_log.actor_api_key_id IS
    'The API key that authenticated the request making the change, if any';
ALTER TABLE iam.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE iam.audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'role_granted', 'role_revoked', 'role_changed',
        'member_added', 'member_removed', 'member_reactivated', 'member_role_changed', 'member_updated',
        'member_deleted',
        'catalog_role_created', 'catalog_role_changed', 'catalog_role_deleted',
        'api_key_created', 'api_key_rotated', 'api_key_revoked', 'api_key_reactivated',
        'api_key_changed', 'api_key_deleted',
        'invitation_created', 'invitation_accepted', 'invitation_revoked', 'invitation_changed',
        'invitation_deleted'));
COMMENT ON COLUMN iam.audit_log.action IS
    'role_* on user_roles; member_* on company_users; catalog_role_* on roles; api_key_* on api_keys; invitation_* on company_invitations';
COMMENT ON COLUMN iam.audit_log.actor_role IS
    'The database role that made the change: the one the session acts as (SET ROLE), also inside a SECURITY DEFINER function';
COMMENT ON TABLE iam.audit_log IS
    'Who changed which role grant, membership, role of the catalogue or API key, when (written by iam.audit_change(); readable by platform_admin)';

-- rotate_api_key gained its grace argument.
DROP FUNCTION iam.rotate_api_key(uuid);

------------------------------------------------------------------------------
-- Tenancy: admin rights per company (company_users.role_in_company, where
-- 0.6.0 made every member holding enterprise_admin an admin of each of their
-- companies), membership by invitation, a company keeps an admin, and its
-- admins read their members through iam.company_members.
------------------------------------------------------------------------------
ALTER TABLE iam.company_users ADD COLUMN role_in_company varchar NOT NULL DEFAULT 'member'
    CONSTRAINT company_users_role_in_company_check CHECK (role_in_company IN ('member', 'admin'));
COMMENT ON COLUMN iam.company_users.role_in_company IS
    'member or admin: specific to the company, distinct from platform roles; an active admin administers this company only';

-- Each admin of 0.6.0 stays the admin of exactly the companies they are a
-- member of (audited as member_role_changed).
UPDATE iam.company_users AS cu SET role_in_company = 'admin'
WHERE EXISTS (SELECT FROM iam.user_roles AS ur JOIN iam.roles AS r ON r.id = ur.role_id
              WHERE ur.user_id = cu.user_id AND r.name = 'enterprise_admin');

-- enterprise_admin no longer administers anything: its seeded description
-- says so (a description the operator changed is left as it is).
UPDATE iam.roles
SET description = 'Platform role for the application''s use; administers no company (company admins: role_in_company)'
WHERE id = '00000000-0000-4000-8000-000000000003'
  AND description = 'Administers a company: its members and its API keys';

------------------------------------------------------------------------------
-- Invitations. The token is shown once, to the admin who invites; the table
-- keeps its SHA-256. A token holds 155 random bits (32 characters of the
-- referral codes' alphabet, from the same CSPRNG), so its hash cannot be
-- searched for a token, and needs no secret key as an API key's hash does.
-- invited_user_id has no foreign key: an invitation tells its author nothing
-- about which user ids exist.
------------------------------------------------------------------------------
CREATE TABLE iam.company_invitations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id      uuid NOT NULL REFERENCES iam.companies (id) ON DELETE CASCADE,
    invited_email   varchar,
    invited_user_id uuid,
    role_in_company varchar NOT NULL DEFAULT 'member'
        CONSTRAINT company_invitations_role_in_company_check CHECK (role_in_company IN ('member', 'admin')),
    token_hash      varchar NOT NULL UNIQUE,
    invited_by      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     uuid,
    revoked_at      timestamptz,
    CONSTRAINT company_invitations_invitee_check CHECK ((invited_email IS NULL) <> (invited_user_id IS NULL))
);
CREATE INDEX company_invitations_company_id_idx ON iam.company_invitations (company_id, created_at);
COMMENT ON TABLE iam.company_invitations IS
    'Invitations to join a company, each accepted once by its invitee with its token (iam.accept_company_invitation)';
COMMENT ON COLUMN iam.company_invitations.id IS 'Invitation id';
COMMENT ON COLUMN iam.company_invitations.company_id IS 'The company the invitee joins';
COMMENT ON COLUMN iam.company_invitations.created_at IS 'When the invitation was made';
COMMENT ON COLUMN iam.company_invitations.invited_email IS 'The invitee by email (lower case), or';
COMMENT ON COLUMN iam.company_invitations.invited_user_id IS 'the invitee by user id (no foreign key: see docs/security.md)';
COMMENT ON COLUMN iam.company_invitations.role_in_company IS 'The role in the company the invitee gets: member or admin';
COMMENT ON COLUMN iam.company_invitations.token_hash IS 'SHA-256 of the token, hex; the token itself is shown once';
COMMENT ON COLUMN iam.company_invitations.invited_by IS 'The user who invited';
COMMENT ON COLUMN iam.company_invitations.expires_at IS 'Until when the token may be accepted';
COMMENT ON COLUMN iam.company_invitations.accepted_at IS 'When it was accepted (then it is spent)';
COMMENT ON COLUMN iam.company_invitations.accepted_by IS 'Who accepted it';
COMMENT ON COLUMN iam.company_invitations.revoked_at IS 'When an admin revoked it';

-- Invitations by email admit a confirmed address only (docs/companies.md):
-- where the Supabase sync is on, the definitions that follow run
-- enable_auth_sync again, which fills it;
-- elsewhere existing users count as unconfirmed until the service role
-- confirms them.
ALTER TABLE iam.users ADD COLUMN email_confirmed_at timestamptz;
COMMENT ON COLUMN iam.users.email_confirmed_at IS
    'When the user''s current email was confirmed (on Supabase copied from auth.users; elsewhere set by the service role); NULL: unconfirmed, and an invitation by email does not admit them';

-- A rotation's new key counts its requests under the rate limit's count of
-- the key it replaces, and so does every later rotation (docs/api_keys.md);
-- NULL, as for every key of 0.6.0: its own id.
ALTER TABLE iam.api_keys ADD COLUMN rate_limit_key_id uuid;
COMMENT ON COLUMN iam.api_keys.rate_limit_key_id IS
    'The key under whose id this key''s requests are counted against rate_limit: the first key of the rotations (with a grace) that led to this one, so that a rotation never starts a fresh count; NULL: its own id. Set by iam.rotate_api_key only';

------------------------------------------------------------------------------
-- What a company's admins read of their members: a copy of email and
-- full_name under its own RLS policy (iam.company_members is
-- security_invoker), filled from iam.users and kept by a trigger from now on.
------------------------------------------------------------------------------
CREATE TABLE iam.member_profiles (
    user_id   uuid PRIMARY KEY REFERENCES iam.users (id) ON DELETE CASCADE,
    email     varchar,
    full_name varchar
);
COMMENT ON TABLE iam.member_profiles IS
    'A copy of each user''s email and full_name, kept by the trigger iam.copy_member_profile on iam.users: what the admins of the companies a user is an active member of may read (iam.company_members)';
COMMENT ON COLUMN iam.member_profiles.user_id IS 'The user';
COMMENT ON COLUMN iam.member_profiles.email IS 'iam.users.email, copied';
COMMENT ON COLUMN iam.member_profiles.full_name IS 'iam.users.full_name, copied';
INSERT INTO iam.member_profiles (user_id, email, full_name) SELECT u.id, u.email, u.full_name FROM iam.users AS u;
SELECT pg_catalog.pg_extension_config_dump('iam.member_profiles', '');
