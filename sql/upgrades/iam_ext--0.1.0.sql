-- iam_ext 0.1.0: the schema of the data model (docs/schema.md) in schema iam.
-- Deliberate deviations from the DBML are listed, with reasons, in
-- docs/schema.md.

\echo Use "CREATE EXTENSION iam_ext" to load this file. \quit

CREATE SCHEMA iam;
COMMENT ON SCHEMA iam IS 'Identity & Access Management: users, roles, companies, API keys and referrals (iam_ext)';

-- Objects are reached through schema-qualified names only: nothing below
-- depends on the installing session's search_path.

------------------------------------------------------------------------------
-- updated_at maintenance
------------------------------------------------------------------------------

CREATE FUNCTION iam.set_updated_at() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_set_updated_at';
COMMENT ON FUNCTION iam.set_updated_at() IS
    'BEFORE UPDATE row trigger: sets updated_at to the transaction timestamp (now())';
-- Trigger functions are not for calling: nobody but the owner executes them.
REVOKE EXECUTE ON FUNCTION iam.set_updated_at() FROM PUBLIC;

------------------------------------------------------------------------------
-- users
------------------------------------------------------------------------------

CREATE TABLE iam.users (
    id                 uuid PRIMARY KEY,
    email              varchar UNIQUE,
    full_name          varchar,
    raw_app_meta_data  jsonb,
    raw_user_meta_data jsonb
);
COMMENT ON TABLE iam.users IS
    'Platform users. Primarily managed by Supabase Auth (auth.users), extended here';
COMMENT ON COLUMN iam.users.id IS 'User id; on Supabase the same as auth.users.id';
COMMENT ON COLUMN iam.users.email IS 'Email address; on Supabase copied from auth.users.email';
COMMENT ON COLUMN iam.users.full_name IS 'Display name of the user';
COMMENT ON COLUMN iam.users.raw_app_meta_data IS
    'App-specific, non-sensitive data (e.g. an initial role hint), as in Supabase';
COMMENT ON COLUMN iam.users.raw_user_meta_data IS 'User-specific preferences, as in Supabase';

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
     'Administers a company: its members and its API keys'),
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
CREATE TRIGGER companies_set_updated_at
    BEFORE UPDATE ON iam.companies
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION iam.set_updated_at();
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
    PRIMARY KEY (user_id, company_id)
);
CREATE INDEX company_users_company_id_idx ON iam.company_users (company_id);
COMMENT ON TABLE iam.company_users IS 'Links enterprise employees to their companies';
COMMENT ON COLUMN iam.company_users.user_id IS 'The employee';
COMMENT ON COLUMN iam.company_users.company_id IS 'The company';
COMMENT ON COLUMN iam.company_users.joined_at IS 'When the user joined the company';
COMMENT ON COLUMN iam.company_users.is_active_in_company IS
    'False once the user is removed from the company but not from the platform';

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
CREATE TRIGGER user_settings_set_updated_at
    BEFORE UPDATE ON iam.user_settings
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION iam.set_updated_at();
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
    CONSTRAINT api_keys_owner_check CHECK (user_id IS NOT NULL OR company_id IS NOT NULL)
);
CREATE INDEX api_keys_user_id_idx ON iam.api_keys (user_id);
CREATE INDEX api_keys_company_id_idx ON iam.api_keys (company_id);
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
-- pg_dump: the rows of these tables are user data, dumped with the database.
-- The seeded roles are created by CREATE EXTENSION itself, so a restore must
-- not insert them again.
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
