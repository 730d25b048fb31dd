-- The tables of schema iam: the data model, the audit trail and the API-key
-- peppers, with their comments, the seeded roles and what pg_dump keeps.
-- Deliberate deviations from the model are listed, with reasons, in
-- docs/schema.md. Objects are reached through schema-qualified names only:
-- nothing here depends on the installing session's search_path.

CREATE SCHEMA iam;
COMMENT ON SCHEMA iam IS 'Identity & Access Management: users, roles, companies, API keys and referrals (iam_ext)';

-- Objects are reached through schema-qualified names only: nothing below
-- depends on the installing session's search_path.

------------------------------------------------------------------------------
-- users
------------------------------------------------------------------------------

CREATE TABLE iam.users (
    id                 uuid PRIMARY KEY,
    email              varchar UNIQUE,
    full_name          varchar,
    raw_app_meta_data  jsonb,
    raw_user_meta_data jsonb,
    -- Appended in 0.7.0, after the model's columns.
    banned_until       timestamptz,
    deleted_at         timestamptz,
    email_confirmed_at timestamptz
);
COMMENT ON TABLE iam.users IS
    'Platform users. Primarily managed by Supabase Auth (auth.users), extended here';
COMMENT ON COLUMN iam.users.id IS 'User id; on Supabase the same as auth.users.id';
COMMENT ON COLUMN iam.users.email IS 'Email address; on Supabase copied from auth.users.email';
COMMENT ON COLUMN iam.users.full_name IS 'Display name of the user';
COMMENT ON COLUMN iam.users.raw_app_meta_data IS
    'App-specific, non-sensitive data (e.g. an initial role hint), as in Supabase';
COMMENT ON COLUMN iam.users.raw_user_meta_data IS 'User-specific preferences, as in Supabase';
COMMENT ON COLUMN iam.users.banned_until IS
    'On Supabase, auth.users.banned_until: the user''s API keys do not verify before then';
COMMENT ON COLUMN iam.users.deleted_at IS
    'On Supabase, auth.users.deleted_at (soft deletion): the user''s API keys no longer verify';
COMMENT ON COLUMN iam.users.email_confirmed_at IS
    'When the user''s current email was confirmed (on Supabase copied from auth.users; elsewhere set by the service role); NULL: unconfirmed, and an invitation by email does not admit them';

------------------------------------------------------------------------------
-- roles and user_roles
------------------------------------------------------------------------------

CREATE TABLE iam.roles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        varchar NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE iam.roles IS 'Platform roles a user can hold';
COMMENT ON COLUMN iam.roles.id IS 'Role id; the seven built-in roles have fixed ids';
COMMENT ON COLUMN iam.roles.name IS
    'e.g., solo_learner, enterprise_employee, enterprise_admin, course_creator, consultant, support_agent, platform_admin';
COMMENT ON COLUMN iam.roles.description IS 'What holding the role allows';
COMMENT ON COLUMN iam.roles.created_at IS 'When the role was created';

-- Built-in rows are the same in every database, created_at included, so that
-- a restored database (which recreates them) is identical to its source.
INSERT INTO iam.roles (id, name, description, created_at)
SELECT id::uuid, name, description, '2026-11-25 00:00:00+00'
FROM (VALUES
    ('00000000-0000-4000-8000-000000000001', 'solo_learner',
     'Individual learner with a personal account'),
    ('00000000-0000-4000-8000-000000000002', 'enterprise_employee',
     'Learner whose access comes from an employer company'),
    ('00000000-0000-4000-8000-000000000003', 'enterprise_admin',
     'Platform role for the application''s use; administers no company (company admins: role_in_company)'),
    ('00000000-0000-4000-8000-000000000004', 'course_creator',
     'Creates and maintains courses'),
    ('00000000-0000-4000-8000-000000000005', 'consultant',
     'External consultant working with companies'),
    ('00000000-0000-4000-8000-000000000006', 'support_agent',
     'Support staff: reads every account, changes none'),
    ('00000000-0000-4000-8000-000000000007', 'platform_admin',
     'Operates the platform: sees and manages everything')) AS built_in (id, name, description);

CREATE TABLE iam.user_roles (
    user_id    uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
    role_id    uuid NOT NULL REFERENCES iam.roles (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_id_idx ON iam.user_roles (role_id);
COMMENT ON TABLE iam.user_roles IS 'Links users to their roles';
COMMENT ON COLUMN iam.user_roles.user_id IS 'The user holding the role';
COMMENT ON COLUMN iam.user_roles.role_id IS 'The role held';
COMMENT ON COLUMN iam.user_roles.created_at IS 'When the role was granted';

------------------------------------------------------------------------------
-- companies and company_users
------------------------------------------------------------------------------

CREATE TABLE iam.companies (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name               varchar NOT NULL,
    current_iam_status varchar NOT NULL DEFAULT 'active'
        CONSTRAINT companies_current_iam_status_check
        CHECK (current_iam_status IN ('active', 'suspended_by_admin', 'pending_verification')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz,
    is_deleted         boolean NOT NULL DEFAULT false,
    deleted_at         timestamptz
);
COMMENT ON TABLE iam.companies IS 'Enterprise customers whose employees use the platform';
COMMENT ON COLUMN iam.companies.id IS 'Company id';
COMMENT ON COLUMN iam.companies.name IS 'Company name';
COMMENT ON COLUMN iam.companies.current_iam_status IS
    'e.g., active, suspended_by_admin, pending_verification';
COMMENT ON COLUMN iam.companies.created_at IS 'When the company was created';
COMMENT ON COLUMN iam.companies.updated_at IS 'When the company row last changed (maintained by a trigger)';
COMMENT ON COLUMN iam.companies.is_deleted IS 'Soft deletion flag';
COMMENT ON COLUMN iam.companies.deleted_at IS 'When the company was soft-deleted';

CREATE TABLE iam.company_users (
    user_id              uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
    company_id           uuid NOT NULL REFERENCES iam.companies (id) ON DELETE CASCADE,
    joined_at            timestamptz NOT NULL DEFAULT now(),
    is_active_in_company boolean NOT NULL DEFAULT true,
    role_in_company      varchar NOT NULL DEFAULT 'member'
        CONSTRAINT company_users_role_in_company_check CHECK (role_in_company IN ('member', 'admin')),
    PRIMARY KEY (user_id, company_id)
);
CREATE INDEX company_users_company_id_idx ON iam.company_users (company_id);
COMMENT ON TABLE iam.company_users IS 'Links enterprise employees to their companies';
COMMENT ON COLUMN iam.company_users.user_id IS 'The employee';
COMMENT ON COLUMN iam.company_users.company_id IS 'The company';
COMMENT ON COLUMN iam.company_users.joined_at IS 'When the user joined the company';
COMMENT ON COLUMN iam.company_users.is_active_in_company IS
    'False once the user is removed from the company but not from the platform';
COMMENT ON COLUMN iam.company_users.role_in_company IS
    'member or admin: specific to the company, distinct from platform roles; an active admin administers this company only';

------------------------------------------------------------------------------
-- user_settings
------------------------------------------------------------------------------

CREATE TABLE iam.user_settings (
    user_id                      uuid PRIMARY KEY REFERENCES iam.users (id) ON DELETE CASCADE,
    preferred_language           varchar NOT NULL DEFAULT 'en',
    theme                        varchar NOT NULL DEFAULT 'light'
        CONSTRAINT user_settings_theme_check CHECK (theme IN ('light', 'dark')),
    notifications_enabled_email  boolean NOT NULL DEFAULT true,
    notifications_enabled_in_app boolean NOT NULL DEFAULT true,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz
);
COMMENT ON TABLE iam.user_settings IS 'User-specific preferences';
COMMENT ON COLUMN iam.user_settings.user_id IS 'The user these settings belong to';
COMMENT ON COLUMN iam.user_settings.preferred_language IS 'e.g., ''en'', ''fr''';
COMMENT ON COLUMN iam.user_settings.theme IS 'e.g., light, dark';
COMMENT ON COLUMN iam.user_settings.notifications_enabled_email IS 'Whether the user receives email notifications';
COMMENT ON COLUMN iam.user_settings.notifications_enabled_in_app IS 'Whether the user receives in-app notifications';
COMMENT ON COLUMN iam.user_settings.created_at IS 'When the settings were created';
COMMENT ON COLUMN iam.user_settings.updated_at IS 'When the settings last changed (maintained by a trigger)';

------------------------------------------------------------------------------
-- api_keys
------------------------------------------------------------------------------

CREATE TABLE iam.api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid REFERENCES iam.users (id) ON DELETE CASCADE,
    company_id   uuid REFERENCES iam.companies (id) ON DELETE CASCADE,
    name         varchar NOT NULL,
    key_prefix   varchar(8) NOT NULL UNIQUE,
    hashed_key   varchar NOT NULL UNIQUE,
    permissions  jsonb,
    expires_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    is_active    boolean NOT NULL DEFAULT true,
    -- Appended in 0.7.0, after the model's columns.
    created_by      uuid,
    suspended_until timestamptz,
    replaces_key_id uuid REFERENCES iam.api_keys (id) ON DELETE SET NULL,
    -- Usage credits and a rate limit (docs/api_keys.md), held together by
    -- the trigger guard_api_key.
    remaining         integer CONSTRAINT api_keys_remaining_check CHECK (remaining >= 0),
    refill_amount     integer,
    refill_interval   interval,
    refilled_at       timestamptz,
    rate_limit        integer,
    rate_limit_window interval,
    -- Whose counter the rate limit spends: set by a rotation only.
    rate_limit_key_id uuid,
    CONSTRAINT api_keys_owner_check CHECK (user_id IS NOT NULL OR company_id IS NOT NULL)
);
CREATE INDEX api_keys_user_id_idx ON iam.api_keys (user_id);
CREATE INDEX api_keys_company_id_idx ON iam.api_keys (company_id);
-- A key is replaced once (a second rotation rotates the new key), and
-- deleting a key clears the link of the key that replaced it: without this
-- index each deleted key would scan the table.
CREATE UNIQUE INDEX api_keys_replaces_key_id_key ON iam.api_keys (replaces_key_id) WHERE replaces_key_id IS NOT NULL;
COMMENT ON TABLE iam.api_keys IS 'API keys for user or company access to the platform';
COMMENT ON COLUMN iam.api_keys.id IS 'API key id';
COMMENT ON COLUMN iam.api_keys.user_id IS 'If key is for a specific user';
COMMENT ON COLUMN iam.api_keys.company_id IS 'If key is for a company';
COMMENT ON COLUMN iam.api_keys.name IS 'Name given to the key by its owner';
COMMENT ON COLUMN iam.api_keys.key_prefix IS 'First few chars of the key for identification';
COMMENT ON COLUMN iam.api_keys.hashed_key IS 'Hashed version of the API key';
COMMENT ON COLUMN iam.api_keys.permissions IS 'Permissions scope for this key';
COMMENT ON COLUMN iam.api_keys.expires_at IS 'When the key stops working; NULL for never';
COMMENT ON COLUMN iam.api_keys.last_used_at IS 'When the key last authenticated a request (approximate)';
COMMENT ON COLUMN iam.api_keys.created_at IS 'When the key was created';
COMMENT ON COLUMN iam.api_keys.is_active IS 'False once the key is revoked';
COMMENT ON COLUMN iam.api_keys.created_by IS
    'iam.current_user_id() of whoever created the key (set by the trigger guard_api_key); NULL for the service role or the operator';
COMMENT ON COLUMN iam.api_keys.suspended_until IS
    'The key does not verify before then: its user is banned (infinity once deleted); kept by iam.sync_user_from_auth';
COMMENT ON COLUMN iam.api_keys.replaces_key_id IS
    'The key this one replaced by iam.rotate_api_key(key_id, grace), which keeps verifying until the grace ends';
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
COMMENT ON COLUMN iam.api_keys.rate_limit_key_id IS
    'The key under whose id this key''s requests are counted against rate_limit: the first key of the rotations (with a grace) that led to this one, so that a rotation never starts a fresh count; NULL: its own id. Set by iam.rotate_api_key only';

------------------------------------------------------------------------------
-- referral_codes and referrals
------------------------------------------------------------------------------

CREATE TABLE iam.referral_codes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL UNIQUE REFERENCES iam.users (id) ON DELETE CASCADE,
    code       varchar NOT NULL UNIQUE,
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
COMMENT ON TABLE iam.referral_codes IS 'Referral codes users hand out to bring others in';
COMMENT ON COLUMN iam.referral_codes.id IS 'Referral code id';
COMMENT ON COLUMN iam.referral_codes.user_id IS 'Each user can have one primary referral code';
COMMENT ON COLUMN iam.referral_codes.code IS 'The code people type';
COMMENT ON COLUMN iam.referral_codes.is_active IS 'False once the code no longer accepts redemptions';
COMMENT ON COLUMN iam.referral_codes.created_at IS 'When the code was created';
COMMENT ON COLUMN iam.referral_codes.expires_at IS 'When the code stops working; NULL for never';

CREATE TABLE iam.referrals (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    referrer_user_id      uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
    referred_user_id      uuid NOT NULL UNIQUE REFERENCES iam.users (id) ON DELETE CASCADE,
    referral_code_used_id uuid NOT NULL REFERENCES iam.referral_codes (id) ON DELETE CASCADE,
    status                varchar NOT NULL DEFAULT 'pending'
        CONSTRAINT referrals_status_check
        CHECK (status IN ('pending', 'completed_signup', 'subscription_activated')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    converted_at          timestamptz,
    CONSTRAINT referrals_not_self_check CHECK (referrer_user_id <> referred_user_id)
);
CREATE INDEX referrals_referrer_user_id_idx ON iam.referrals (referrer_user_id);
CREATE INDEX referrals_referral_code_used_id_idx ON iam.referrals (referral_code_used_id);
COMMENT ON TABLE iam.referrals IS 'Tracks who referred whom';
COMMENT ON COLUMN iam.referrals.id IS 'Referral id';
COMMENT ON COLUMN iam.referrals.referrer_user_id IS 'The user whose code was used';
COMMENT ON COLUMN iam.referrals.referred_user_id IS 'A user can only be referred once';
COMMENT ON COLUMN iam.referrals.referral_code_used_id IS 'The referral code that was redeemed';
COMMENT ON COLUMN iam.referrals.status IS 'e.g., pending, completed_signup, subscription_activated';
COMMENT ON COLUMN iam.referrals.created_at IS 'When the code was redeemed';
COMMENT ON COLUMN iam.referrals.converted_at IS 'When the referral led to a desired action';

------------------------------------------------------------------------------
-- audit_log: who changed which role, membership, role of the catalogue, key,
-- invitation or external identity
------------------------------------------------------------------------------
CREATE TABLE iam.audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at    timestamptz NOT NULL DEFAULT statement_timestamp(),
    actor_user_id  uuid,
    actor_role     text NOT NULL,
    action         text NOT NULL,
    target_user_id uuid,
    role_id        uuid,
    company_id     uuid,
    old_row        jsonb,
    new_row        jsonb,
    actor_api_key_id uuid,
    CONSTRAINT audit_log_action_check CHECK (action IN (
        'role_granted', 'role_revoked', 'role_changed',
        'member_added', 'member_removed', 'member_reactivated', 'member_role_changed', 'member_updated',
        'member_deleted',
        'catalog_role_created', 'catalog_role_changed', 'catalog_role_deleted',
        'api_key_created', 'api_key_rotated', 'api_key_revoked', 'api_key_reactivated',
        'api_key_changed', 'api_key_deleted',
        'invitation_created', 'invitation_accepted', 'invitation_revoked', 'invitation_changed',
        'invitation_deleted',
        'permission_registered', 'permission_changed', 'permission_deleted',
        'role_permission_granted', 'role_permission_revoked', 'role_permission_changed',
        'company_role_created', 'company_role_changed', 'company_role_deleted',
        'member_role_assigned', 'member_role_removed', 'member_role_reassigned',
        'identity_linked', 'identity_unlinked', 'identity_changed'))
);
CREATE INDEX audit_log_target_user_id_idx ON iam.audit_log (target_user_id, occurred_at);
CREATE INDEX audit_log_company_id_idx ON iam.audit_log (company_id, occurred_at)
    WHERE company_id IS NOT NULL;
COMMENT ON TABLE iam.audit_log IS
    'Who changed which role grant, membership, role of the catalogue or API key, when (written by iam.audit_change(); readable by platform_admin)';
COMMENT ON COLUMN iam.audit_log.id IS 'Order of the changes';
COMMENT ON COLUMN iam.audit_log.occurred_at IS 'Start of the statement that made the change';
COMMENT ON COLUMN iam.audit_log.actor_user_id IS 'iam.current_user_id() of the caller; NULL for a database session without one';
COMMENT ON COLUMN iam.audit_log.actor_role IS
    'The database role that made the change: the one the session acts as (SET ROLE), also inside a SECURITY DEFINER function';
COMMENT ON COLUMN iam.audit_log.action IS
    'role_granted/revoked/changed on user_roles; member_* on company_users (member_role_assigned/removed/reassigned on company_member_roles); catalog_role_* on roles; api_key_* on api_keys; invitation_* on company_invitations; permission_* on permissions; role_permission_* on role_permissions and company_role_permissions; company_role_* on company_roles; identity_* on external_identities';
COMMENT ON COLUMN iam.audit_log.target_user_id IS
    'The user whose role, membership or key changed (no foreign key: the trail outlives the user); NULL for a role of the catalogue or a company''s key';
COMMENT ON COLUMN iam.audit_log.role_id IS 'The role granted or revoked';
COMMENT ON COLUMN iam.audit_log.company_id IS 'The company of the membership';
COMMENT ON COLUMN iam.audit_log.old_row IS 'The row before the change (NULL for an insert)';
COMMENT ON COLUMN iam.audit_log.new_row IS 'The row after the change (NULL for a delete)';
COMMENT ON COLUMN iam.audit_log.actor_api_key_id IS
    'The API key that authenticated the request making the change, if any';

-- The server secret (pepper) that keys the hash of every API key. Read by
-- the C code only: RLS is on with no policy and no role is granted anything,
-- so no client role, the service role included, can read it. The first
-- version is generated by the first key created (not at install: a restore
-- brings the dumped peppers back into an empty table, and keys made before
-- the dump keep verifying). Several versions coexist so that the pepper can
-- rotate: new keys use the highest, a stored hash names its own.
CREATE TABLE iam.api_key_peppers (
    version    integer PRIMARY KEY CONSTRAINT api_key_peppers_version_check CHECK (version > 0),
    pepper     bytea NOT NULL CONSTRAINT api_key_peppers_pepper_check CHECK (octet_length(pepper) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE iam.api_key_peppers IS
    'Server secrets keying the API-key hashes (BLAKE2b); readable by the extension''s C code only; ignored when iam.pepper_file is set';
COMMENT ON COLUMN iam.api_key_peppers.version IS 'Named in every hashed_key made with it; new keys use the highest';
COMMENT ON COLUMN iam.api_key_peppers.pepper IS '32 random bytes from libsodium';
COMMENT ON COLUMN iam.api_key_peppers.created_at IS 'When this version was generated';
ALTER TABLE iam.api_key_peppers ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON iam.api_key_peppers FROM PUBLIC;

------------------------------------------------------------------------------
-- pg_dump: the rows of these tables are user data, dumped with the database.
-- The seeded roles are created by CREATE EXTENSION itself, so a restore must
-- not insert them again.
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


------------------------------------------------------------------------------
-- member_profiles: what a company's admins may read of their members
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

------------------------------------------------------------------------------
-- Permissions (0.8.0): the application's permission catalogue, the
-- permissions platform roles carry, company roles (templates available in
-- every company, and a company's own), their permissions, and the company
-- roles each member holds beyond role_in_company. iam.can() answers from
-- them (docs/permissions.md).
------------------------------------------------------------------------------
-- A permission is 1 to 200 printable ASCII characters without spaces; a
-- registered one never holds '*'. A grant (a role's permission, a key's
-- scope) is a registered permission, 'resource:*' (every permission that
-- starts with 'resource:') or '*' (every permission).
CREATE TABLE iam.permissions (
    name        text PRIMARY KEY
        CONSTRAINT permissions_name_check CHECK (name ~ '^[!-)+-~]{1,200}$'),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE iam.permissions IS
    'The permissions the application checks with iam.can(): asking for one that is not here is an error (42704)';
COMMENT ON COLUMN iam.permissions.name IS 'e.g. courses:read; printable ASCII, no spaces, no *, at most 200 characters';
COMMENT ON COLUMN iam.permissions.description IS 'What holding the permission allows';
COMMENT ON COLUMN iam.permissions.created_at IS 'When the permission was registered';
INSERT INTO iam.permissions (name, description, created_at) VALUES
    ('iam:roles:manage', 'Define the company''s own roles, their permissions, and which members hold them',
     '2026-12-06 00:00:00+00');

CREATE TABLE iam.role_permissions (
    role_id    uuid NOT NULL REFERENCES iam.roles (id) ON DELETE CASCADE,
    permission text NOT NULL
        CONSTRAINT role_permissions_permission_check CHECK (permission ~ '^([!-)+-~]{1,200}|\*|[!-)+-~]{0,198}:\*)$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_id, permission)
);
COMMENT ON TABLE iam.role_permissions IS
    'What each platform role grants, everywhere: a registered permission, resource:* or *';
COMMENT ON COLUMN iam.role_permissions.role_id IS 'The platform role';
COMMENT ON COLUMN iam.role_permissions.permission IS 'The permission granted: a registered one, resource:* or *';
COMMENT ON COLUMN iam.role_permissions.created_at IS 'When it was granted';
INSERT INTO iam.role_permissions (role_id, permission, created_at)
VALUES ('00000000-0000-4000-8000-000000000007', '*', '2026-12-06 00:00:00+00');

CREATE TABLE iam.company_roles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id  uuid REFERENCES iam.companies (id) ON DELETE CASCADE,
    name        varchar NOT NULL
        CONSTRAINT company_roles_name_check CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT company_roles_company_id_name_key UNIQUE NULLS NOT DISTINCT (company_id, name)
);
CREATE INDEX company_roles_name_idx ON iam.company_roles (name);
COMMENT ON TABLE iam.company_roles IS
    'Roles within a company: templates (company_id NULL) exist in every company, the others in theirs; member and admin are the templates role_in_company names';
COMMENT ON COLUMN iam.company_roles.id IS 'Company role id; the templates member and admin have fixed ids';
COMMENT ON COLUMN iam.company_roles.company_id IS 'The company whose own role this is; NULL for a template available in every company';
COMMENT ON COLUMN iam.company_roles.name IS 'e.g. instructor, learner; lower case, unique within the company and among the templates';
COMMENT ON COLUMN iam.company_roles.description IS 'What holding the role allows';
COMMENT ON COLUMN iam.company_roles.created_at IS 'When the role was defined';
INSERT INTO iam.company_roles (id, company_id, name, description, created_at) VALUES
    ('00000000-0000-4000-8000-000000000101', NULL, 'member',
     'Every active member of a company (role_in_company member or admin)', '2026-12-06 00:00:00+00'),
    ('00000000-0000-4000-8000-000000000102', NULL, 'admin',
     'The company''s admins (role_in_company admin)', '2026-12-06 00:00:00+00');

CREATE TABLE iam.company_role_permissions (
    company_role_id uuid NOT NULL REFERENCES iam.company_roles (id) ON DELETE CASCADE,
    permission      text NOT NULL
        CONSTRAINT company_role_permissions_permission_check
        CHECK (permission ~ '^([!-)+-~]{1,200}|\*|[!-)+-~]{0,198}:\*)$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_role_id, permission)
);
COMMENT ON TABLE iam.company_role_permissions IS
    'What each company role grants, in the company where it is held';
COMMENT ON COLUMN iam.company_role_permissions.company_role_id IS 'The company role';
COMMENT ON COLUMN iam.company_role_permissions.permission IS 'The permission granted: a registered one, resource:* or *';
COMMENT ON COLUMN iam.company_role_permissions.created_at IS 'When it was granted';
INSERT INTO iam.company_role_permissions (company_role_id, permission, created_at)
VALUES ('00000000-0000-4000-8000-000000000102', '*', '2026-12-06 00:00:00+00');

CREATE TABLE iam.company_member_roles (
    user_id         uuid NOT NULL,
    company_id      uuid NOT NULL,
    company_role_id uuid NOT NULL REFERENCES iam.company_roles (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, company_id, company_role_id),
    CONSTRAINT company_member_roles_membership_fkey FOREIGN KEY (user_id, company_id)
        REFERENCES iam.company_users (user_id, company_id) ON DELETE CASCADE
);
CREATE INDEX company_member_roles_company_role_id_idx ON iam.company_member_roles (company_role_id);
COMMENT ON TABLE iam.company_member_roles IS
    'The company roles a member holds beyond role_in_company, in that company only (while the membership is active)';
COMMENT ON COLUMN iam.company_member_roles.user_id IS 'The member';
COMMENT ON COLUMN iam.company_member_roles.company_id IS 'The company';
COMMENT ON COLUMN iam.company_member_roles.company_role_id IS 'A template or a role of this company; not member or admin';
COMMENT ON COLUMN iam.company_member_roles.created_at IS 'When the role was assigned';
-- external_identities: the users of other identity providers (Auth0, Clerk,
-- WorkOS, Keycloak, Firebase ...), whose JWT "sub" is an id of theirs, not
-- an iam user id. iam.current_user_id() reads (issuer, subject) here when
-- iam.external_subjects is on; the C code reads the columns by position.
------------------------------------------------------------------------------

CREATE TABLE iam.external_identities (
    issuer     text COLLATE "C" NOT NULL
        CONSTRAINT external_identities_issuer_check CHECK (issuer <> '' AND octet_length(issuer) <= 1024),
    subject    text COLLATE "C" NOT NULL
        CONSTRAINT external_identities_subject_check CHECK (subject <> '' AND octet_length(subject) <= 1024),
    user_id    uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT external_identities_pkey PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_user_id_idx ON iam.external_identities (user_id);
COMMENT ON TABLE iam.external_identities IS
    'Which iam user a subject of another identity provider is: read by iam.current_user_id() for a JWT "sub" that is not a UUID (iam.external_subjects); written by the service role (iam.link_external_identity) or on first sight';
COMMENT ON COLUMN iam.external_identities.issuer IS
    'The provider, as the JWT claim iam.jwt_issuer_claim ("iss" by default) spells it, byte for byte (e.g. https://example.auth0.com/)';
COMMENT ON COLUMN iam.external_identities.subject IS
    'The provider''s id of the user: the JWT "sub", byte for byte (e.g. auth0|6553da60a54af58e29493993, user_2NNEqL2nrIRdJ194ndJqAHwEfxC)';
COMMENT ON COLUMN iam.external_identities.user_id IS 'The iam user that subject is';
COMMENT ON COLUMN iam.external_identities.created_at IS 'When the mapping was made';

------------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('iam.users', '');
SELECT pg_catalog.pg_extension_config_dump('iam.roles',
    $$WHERE id NOT IN ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
                       '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000004',
                       '00000000-0000-4000-8000-000000000005', '00000000-0000-4000-8000-000000000006',
                       '00000000-0000-4000-8000-000000000007')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.user_roles', '');
SELECT pg_catalog.pg_extension_config_dump('iam.companies', '');
SELECT pg_catalog.pg_extension_config_dump('iam.company_users', '');
SELECT pg_catalog.pg_extension_config_dump('iam.user_settings', '');
SELECT pg_catalog.pg_extension_config_dump('iam.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('iam.referral_codes', '');
SELECT pg_catalog.pg_extension_config_dump('iam.referrals', '');
SELECT pg_catalog.pg_extension_config_dump('iam.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('iam.member_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('iam.external_identities', '');
SELECT pg_catalog.pg_extension_config_dump('iam.audit_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('iam.api_key_peppers', '');
SELECT pg_catalog.pg_extension_config_dump('iam.company_invitations', '');
SELECT pg_catalog.pg_extension_config_dump('iam.permissions', $$WHERE name <> 'iam:roles:manage'$$);
SELECT pg_catalog.pg_extension_config_dump('iam.role_permissions',
    $$WHERE (role_id, permission) <> ('00000000-0000-4000-8000-000000000007', '*')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.company_roles',
    $$WHERE id NOT IN ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000102')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.company_role_permissions',
    $$WHERE (company_role_id, permission) <> ('00000000-0000-4000-8000-000000000102', '*')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.company_member_roles', '');
