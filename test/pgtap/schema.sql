-- schema.sql: proves that CREATE EXTENSION iam_ext builds schema iam exactly
-- as the data model describes it: the nine tables with
-- their columns, types, primary keys, unique columns, foreign keys, NOT NULLs
-- and defaults, plus the deliberate deviations docs/schema.md lists:
-- timestamptz for timestamp,
-- gen_random_uuid() for uuid_generate_v4(), NOT NULL on columns that have a
-- default, the CHECK constraints, ON DELETE CASCADE, the foreign-key indexes,
-- the seven seeded roles, the updated_at triggers, a trigger function PUBLIC
-- cannot execute, and the extension owning the schema and its tables.
--
-- Run with: pg_prove -d DB test/pgtap/schema.sql (DB has pgtap and iam_ext).

BEGIN;
SELECT plan(263);

------------------------------------------------------------------------------
-- Schema and tables (11)
------------------------------------------------------------------------------

SELECT has_schema('iam', 'Schema iam should exist');
SELECT tables_are('iam',
    ARRAY['users', 'roles', 'user_roles', 'companies', 'company_users',
          'user_settings', 'api_keys', 'referral_codes', 'referrals', 'audit_log',
          'api_key_peppers', 'company_invitations', 'member_profiles',
          'permissions', 'role_permissions', 'company_roles', 'company_role_permissions',
          'company_member_roles', 'external_identities']::name[],
    'Schema iam should have exactly the nine DBML tables, the audit log, the peppers, the invitations, the member profiles the five tables of the permission model and the external identities');

SELECT has_table('iam', 'users', 'Table iam.users should exist');
SELECT has_table('iam', 'roles', 'Table iam.roles should exist');
SELECT has_table('iam', 'user_roles', 'Table iam.user_roles should exist');
SELECT has_table('iam', 'companies', 'Table iam.companies should exist');
SELECT has_table('iam', 'company_users', 'Table iam.company_users should exist');
SELECT has_table('iam', 'user_settings', 'Table iam.user_settings should exist');
SELECT has_table('iam', 'api_keys', 'Table iam.api_keys should exist');
SELECT has_table('iam', 'referral_codes', 'Table iam.referral_codes should exist');
SELECT has_table('iam', 'referrals', 'Table iam.referrals should exist');

------------------------------------------------------------------------------
-- Exactly the DBML columns, no more (9)
------------------------------------------------------------------------------

-- Plus the columns docs/schema.md lists as the extension's own, appended.
SELECT columns_are('iam', 'users',
    ARRAY['id', 'email', 'full_name', 'raw_app_meta_data', 'raw_user_meta_data',
          'banned_until', 'deleted_at', 'email_confirmed_at']::name[],
    'Table iam.users should have exactly the DBML columns, the Supabase ban mirror and the email confirmation');
SELECT columns_are('iam', 'roles',
    ARRAY['id', 'name', 'description', 'created_at']::name[],
    'Table iam.roles should have exactly the DBML columns');
SELECT columns_are('iam', 'user_roles',
    ARRAY['user_id', 'role_id', 'created_at']::name[],
    'Table iam.user_roles should have exactly the DBML columns');
SELECT columns_are('iam', 'companies',
    ARRAY['id', 'name', 'current_iam_status', 'created_at', 'updated_at',
          'is_deleted', 'deleted_at']::name[],
    'Table iam.companies should have exactly the DBML columns');
SELECT columns_are('iam', 'company_users',
    ARRAY['user_id', 'company_id', 'joined_at', 'is_active_in_company', 'role_in_company']::name[],
    'Table iam.company_users should have exactly the DBML columns, role_in_company (commented out in the DBML) included');
SELECT columns_are('iam', 'user_settings',
    ARRAY['user_id', 'preferred_language', 'theme', 'notifications_enabled_email',
          'notifications_enabled_in_app', 'created_at', 'updated_at']::name[],
    'Table iam.user_settings should have exactly the DBML columns');
SELECT columns_are('iam', 'api_keys',
    ARRAY['id', 'user_id', 'company_id', 'name', 'key_prefix', 'hashed_key', 'permissions',
          'expires_at', 'last_used_at', 'created_at', 'is_active', 'created_by',
          'suspended_until', 'replaces_key_id', 'remaining', 'refill_amount', 'refill_interval',
          'refilled_at', 'rate_limit', 'rate_limit_window',
          'rate_limit_key_id']::name[],
    'Table iam.api_keys should have exactly the DBML columns, then created_by, suspended_until, replaces_key_id, the usage columns and rate_limit_key_id');
SELECT columns_are('iam', 'referral_codes',
    ARRAY['id', 'user_id', 'code', 'is_active', 'created_at', 'expires_at']::name[],
    'Table iam.referral_codes should have exactly the DBML columns');
-- The permission model (docs/permissions.md).
SELECT columns_are('iam', 'permissions', ARRAY['name', 'description', 'created_at']::name[],
    'Table iam.permissions should have exactly its documented columns');
SELECT columns_are('iam', 'role_permissions', ARRAY['role_id', 'permission', 'created_at']::name[],
    'Table iam.role_permissions should have exactly its documented columns');
SELECT columns_are('iam', 'company_roles', ARRAY['id', 'company_id', 'name', 'description', 'created_at']::name[],
    'Table iam.company_roles should have exactly its documented columns');
SELECT columns_are('iam', 'company_role_permissions', ARRAY['company_role_id', 'permission', 'created_at']::name[],
    'Table iam.company_role_permissions should have exactly its documented columns');
SELECT columns_are('iam', 'company_member_roles',
    ARRAY['user_id', 'company_id', 'company_role_id', 'created_at']::name[],
    'Table iam.company_member_roles should have exactly its documented columns');
SELECT col_is_pk('iam', 'role_permissions', ARRAY['role_id', 'permission']::name[],
    'iam.role_permissions should have the primary key (role_id, permission): a grant once');
SELECT col_is_pk('iam', 'company_role_permissions', ARRAY['company_role_id', 'permission']::name[],
    'iam.company_role_permissions should have the primary key (company_role_id, permission)');
SELECT col_is_pk('iam', 'company_member_roles', ARRAY['user_id', 'company_id', 'company_role_id']::name[],
    'iam.company_member_roles should have the primary key (user_id, company_id, company_role_id)');
SELECT col_is_unique('iam', 'company_roles', ARRAY['company_id', 'name']::name[],
    'iam.company_roles should have (company_id, name) unique: a name once per company and once among the templates');
SELECT results_eq(
    $$SELECT r.id, r.name::text, array_remove(array_agg(p.permission ORDER BY p.permission), NULL)
        FROM iam.company_roles AS r LEFT JOIN iam.company_role_permissions AS p ON p.company_role_id = r.id
       GROUP BY r.id, r.name ORDER BY r.id$$,
    $$VALUES ('00000000-0000-4000-8000-000000000101'::uuid, 'member'::text, '{}'::text[]),
             ('00000000-0000-4000-8000-000000000102'::uuid, 'admin'::text, '{*}'::text[])$$,
    'The company-role templates member (no permission) and admin (*) are built in with fixed ids');
SELECT results_eq(
    $$SELECT r.name::text, p.permission FROM iam.role_permissions AS p JOIN iam.roles AS r ON r.id = p.role_id$$,
    $$VALUES ('platform_admin'::text, '*'::text)$$,
    'Of the platform roles, platform_admin alone carries a permission: *');
SELECT results_eq($$SELECT name FROM iam.permissions$$, $$VALUES ('iam:roles:manage'::text)$$,
    'The catalogue is seeded with iam:roles:manage');
SELECT columns_are('iam', 'referrals',
    ARRAY['id', 'referrer_user_id', 'referred_user_id', 'referral_code_used_id', 'status',
          'created_at', 'converted_at']::name[],
    'Table iam.referrals should have exactly the DBML columns');

------------------------------------------------------------------------------
-- Columns and their types (54 + 54)
-- The model's timestamp is timestamptz on purpose (docs/schema.md).
------------------------------------------------------------------------------

-- users
SELECT has_column('iam', 'users', 'id', 'Column iam.users.id should exist');
SELECT col_type_is('iam', 'users', 'id', 'uuid', 'Column iam.users.id should be uuid');
SELECT has_column('iam', 'users', 'email', 'Column iam.users.email should exist');
SELECT col_type_is('iam', 'users', 'email', 'character varying', 'Column iam.users.email should be varchar');
SELECT has_column('iam', 'users', 'full_name', 'Column iam.users.full_name should exist');
SELECT col_type_is('iam', 'users', 'full_name', 'character varying', 'Column iam.users.full_name should be varchar');
SELECT has_column('iam', 'users', 'raw_app_meta_data', 'Column iam.users.raw_app_meta_data should exist');
SELECT col_type_is('iam', 'users', 'raw_app_meta_data', 'jsonb', 'Column iam.users.raw_app_meta_data should be jsonb');
SELECT has_column('iam', 'users', 'raw_user_meta_data', 'Column iam.users.raw_user_meta_data should exist');
SELECT col_type_is('iam', 'users', 'raw_user_meta_data', 'jsonb', 'Column iam.users.raw_user_meta_data should be jsonb');

-- roles
SELECT has_column('iam', 'roles', 'id', 'Column iam.roles.id should exist');
SELECT col_type_is('iam', 'roles', 'id', 'uuid', 'Column iam.roles.id should be uuid');
SELECT has_column('iam', 'roles', 'name', 'Column iam.roles.name should exist');
SELECT col_type_is('iam', 'roles', 'name', 'character varying', 'Column iam.roles.name should be varchar');
SELECT has_column('iam', 'roles', 'description', 'Column iam.roles.description should exist');
SELECT col_type_is('iam', 'roles', 'description', 'text', 'Column iam.roles.description should be text');
SELECT has_column('iam', 'roles', 'created_at', 'Column iam.roles.created_at should exist');
SELECT col_type_is('iam', 'roles', 'created_at', 'timestamp with time zone', 'Column iam.roles.created_at should be timestamptz');

-- user_roles
SELECT has_column('iam', 'user_roles', 'user_id', 'Column iam.user_roles.user_id should exist');
SELECT col_type_is('iam', 'user_roles', 'user_id', 'uuid', 'Column iam.user_roles.user_id should be uuid');
SELECT has_column('iam', 'user_roles', 'role_id', 'Column iam.user_roles.role_id should exist');
SELECT col_type_is('iam', 'user_roles', 'role_id', 'uuid', 'Column iam.user_roles.role_id should be uuid');
SELECT has_column('iam', 'user_roles', 'created_at', 'Column iam.user_roles.created_at should exist');
SELECT col_type_is('iam', 'user_roles', 'created_at', 'timestamp with time zone', 'Column iam.user_roles.created_at should be timestamptz');

-- companies
SELECT has_column('iam', 'companies', 'id', 'Column iam.companies.id should exist');
SELECT col_type_is('iam', 'companies', 'id', 'uuid', 'Column iam.companies.id should be uuid');
SELECT has_column('iam', 'companies', 'name', 'Column iam.companies.name should exist');
SELECT col_type_is('iam', 'companies', 'name', 'character varying', 'Column iam.companies.name should be varchar');
SELECT has_column('iam', 'companies', 'current_iam_status', 'Column iam.companies.current_iam_status should exist');
SELECT col_type_is('iam', 'companies', 'current_iam_status', 'character varying', 'Column iam.companies.current_iam_status should be varchar');
SELECT has_column('iam', 'companies', 'created_at', 'Column iam.companies.created_at should exist');
SELECT col_type_is('iam', 'companies', 'created_at', 'timestamp with time zone', 'Column iam.companies.created_at should be timestamptz');
SELECT has_column('iam', 'companies', 'updated_at', 'Column iam.companies.updated_at should exist');
SELECT col_type_is('iam', 'companies', 'updated_at', 'timestamp with time zone', 'Column iam.companies.updated_at should be timestamptz');
SELECT has_column('iam', 'companies', 'is_deleted', 'Column iam.companies.is_deleted should exist');
SELECT col_type_is('iam', 'companies', 'is_deleted', 'boolean', 'Column iam.companies.is_deleted should be boolean');
SELECT has_column('iam', 'companies', 'deleted_at', 'Column iam.companies.deleted_at should exist');
SELECT col_type_is('iam', 'companies', 'deleted_at', 'timestamp with time zone', 'Column iam.companies.deleted_at should be timestamptz');

-- company_users
SELECT has_column('iam', 'company_users', 'user_id', 'Column iam.company_users.user_id should exist');
SELECT col_type_is('iam', 'company_users', 'user_id', 'uuid', 'Column iam.company_users.user_id should be uuid');
SELECT has_column('iam', 'company_users', 'company_id', 'Column iam.company_users.company_id should exist');
SELECT col_type_is('iam', 'company_users', 'company_id', 'uuid', 'Column iam.company_users.company_id should be uuid');
SELECT has_column('iam', 'company_users', 'joined_at', 'Column iam.company_users.joined_at should exist');
SELECT col_type_is('iam', 'company_users', 'joined_at', 'timestamp with time zone', 'Column iam.company_users.joined_at should be timestamptz');
SELECT has_column('iam', 'company_users', 'is_active_in_company', 'Column iam.company_users.is_active_in_company should exist');
SELECT col_type_is('iam', 'company_users', 'is_active_in_company', 'boolean', 'Column iam.company_users.is_active_in_company should be boolean');

-- user_settings
SELECT has_column('iam', 'user_settings', 'user_id', 'Column iam.user_settings.user_id should exist');
SELECT col_type_is('iam', 'user_settings', 'user_id', 'uuid', 'Column iam.user_settings.user_id should be uuid');
SELECT has_column('iam', 'user_settings', 'preferred_language', 'Column iam.user_settings.preferred_language should exist');
SELECT col_type_is('iam', 'user_settings', 'preferred_language', 'character varying', 'Column iam.user_settings.preferred_language should be varchar');
SELECT has_column('iam', 'user_settings', 'theme', 'Column iam.user_settings.theme should exist');
SELECT col_type_is('iam', 'user_settings', 'theme', 'character varying', 'Column iam.user_settings.theme should be varchar');
SELECT has_column('iam', 'user_settings', 'notifications_enabled_email', 'Column iam.user_settings.notifications_enabled_email should exist');
SELECT col_type_is('iam', 'user_settings', 'notifications_enabled_email', 'boolean', 'Column iam.user_settings.notifications_enabled_email should be boolean');
SELECT has_column('iam', 'user_settings', 'notifications_enabled_in_app', 'Column iam.user_settings.notifications_enabled_in_app should exist');
SELECT col_type_is('iam', 'user_settings', 'notifications_enabled_in_app', 'boolean', 'Column iam.user_settings.notifications_enabled_in_app should be boolean');
SELECT has_column('iam', 'user_settings', 'created_at', 'Column iam.user_settings.created_at should exist');
SELECT col_type_is('iam', 'user_settings', 'created_at', 'timestamp with time zone', 'Column iam.user_settings.created_at should be timestamptz');
SELECT has_column('iam', 'user_settings', 'updated_at', 'Column iam.user_settings.updated_at should exist');
SELECT col_type_is('iam', 'user_settings', 'updated_at', 'timestamp with time zone', 'Column iam.user_settings.updated_at should be timestamptz');

-- api_keys
SELECT has_column('iam', 'api_keys', 'id', 'Column iam.api_keys.id should exist');
SELECT col_type_is('iam', 'api_keys', 'id', 'uuid', 'Column iam.api_keys.id should be uuid');
SELECT has_column('iam', 'api_keys', 'user_id', 'Column iam.api_keys.user_id should exist');
SELECT col_type_is('iam', 'api_keys', 'user_id', 'uuid', 'Column iam.api_keys.user_id should be uuid');
SELECT has_column('iam', 'api_keys', 'company_id', 'Column iam.api_keys.company_id should exist');
SELECT col_type_is('iam', 'api_keys', 'company_id', 'uuid', 'Column iam.api_keys.company_id should be uuid');
SELECT has_column('iam', 'api_keys', 'name', 'Column iam.api_keys.name should exist');
SELECT col_type_is('iam', 'api_keys', 'name', 'character varying', 'Column iam.api_keys.name should be varchar');
SELECT has_column('iam', 'api_keys', 'key_prefix', 'Column iam.api_keys.key_prefix should exist');
SELECT col_type_is('iam', 'api_keys', 'key_prefix', 'character varying(8)', 'Column iam.api_keys.key_prefix should be varchar(8)');
SELECT has_column('iam', 'api_keys', 'hashed_key', 'Column iam.api_keys.hashed_key should exist');
SELECT col_type_is('iam', 'api_keys', 'hashed_key', 'character varying', 'Column iam.api_keys.hashed_key should be varchar');
SELECT has_column('iam', 'api_keys', 'permissions', 'Column iam.api_keys.permissions should exist');
SELECT col_type_is('iam', 'api_keys', 'permissions', 'jsonb', 'Column iam.api_keys.permissions should be jsonb');
SELECT has_column('iam', 'api_keys', 'expires_at', 'Column iam.api_keys.expires_at should exist');
SELECT col_type_is('iam', 'api_keys', 'expires_at', 'timestamp with time zone', 'Column iam.api_keys.expires_at should be timestamptz');
SELECT has_column('iam', 'api_keys', 'last_used_at', 'Column iam.api_keys.last_used_at should exist');
SELECT col_type_is('iam', 'api_keys', 'last_used_at', 'timestamp with time zone', 'Column iam.api_keys.last_used_at should be timestamptz');
SELECT has_column('iam', 'api_keys', 'created_at', 'Column iam.api_keys.created_at should exist');
SELECT col_type_is('iam', 'api_keys', 'created_at', 'timestamp with time zone', 'Column iam.api_keys.created_at should be timestamptz');
SELECT has_column('iam', 'api_keys', 'is_active', 'Column iam.api_keys.is_active should exist');
SELECT col_type_is('iam', 'api_keys', 'is_active', 'boolean', 'Column iam.api_keys.is_active should be boolean');

-- referral_codes
SELECT has_column('iam', 'referral_codes', 'id', 'Column iam.referral_codes.id should exist');
SELECT col_type_is('iam', 'referral_codes', 'id', 'uuid', 'Column iam.referral_codes.id should be uuid');
SELECT has_column('iam', 'referral_codes', 'user_id', 'Column iam.referral_codes.user_id should exist');
SELECT col_type_is('iam', 'referral_codes', 'user_id', 'uuid', 'Column iam.referral_codes.user_id should be uuid');
SELECT has_column('iam', 'referral_codes', 'code', 'Column iam.referral_codes.code should exist');
SELECT col_type_is('iam', 'referral_codes', 'code', 'character varying', 'Column iam.referral_codes.code should be varchar');
SELECT has_column('iam', 'referral_codes', 'is_active', 'Column iam.referral_codes.is_active should exist');
SELECT col_type_is('iam', 'referral_codes', 'is_active', 'boolean', 'Column iam.referral_codes.is_active should be boolean');
SELECT has_column('iam', 'referral_codes', 'created_at', 'Column iam.referral_codes.created_at should exist');
SELECT col_type_is('iam', 'referral_codes', 'created_at', 'timestamp with time zone', 'Column iam.referral_codes.created_at should be timestamptz');
SELECT has_column('iam', 'referral_codes', 'expires_at', 'Column iam.referral_codes.expires_at should exist');
SELECT col_type_is('iam', 'referral_codes', 'expires_at', 'timestamp with time zone', 'Column iam.referral_codes.expires_at should be timestamptz');

-- referrals
SELECT has_column('iam', 'referrals', 'id', 'Column iam.referrals.id should exist');
SELECT col_type_is('iam', 'referrals', 'id', 'uuid', 'Column iam.referrals.id should be uuid');
SELECT has_column('iam', 'referrals', 'referrer_user_id', 'Column iam.referrals.referrer_user_id should exist');
SELECT col_type_is('iam', 'referrals', 'referrer_user_id', 'uuid', 'Column iam.referrals.referrer_user_id should be uuid');
SELECT has_column('iam', 'referrals', 'referred_user_id', 'Column iam.referrals.referred_user_id should exist');
SELECT col_type_is('iam', 'referrals', 'referred_user_id', 'uuid', 'Column iam.referrals.referred_user_id should be uuid');
SELECT has_column('iam', 'referrals', 'referral_code_used_id', 'Column iam.referrals.referral_code_used_id should exist');
SELECT col_type_is('iam', 'referrals', 'referral_code_used_id', 'uuid', 'Column iam.referrals.referral_code_used_id should be uuid');
SELECT has_column('iam', 'referrals', 'status', 'Column iam.referrals.status should exist');
SELECT col_type_is('iam', 'referrals', 'status', 'character varying', 'Column iam.referrals.status should be varchar');
SELECT has_column('iam', 'referrals', 'created_at', 'Column iam.referrals.created_at should exist');
SELECT col_type_is('iam', 'referrals', 'created_at', 'timestamp with time zone', 'Column iam.referrals.created_at should be timestamptz');
SELECT has_column('iam', 'referrals', 'converted_at', 'Column iam.referrals.converted_at should exist');
SELECT col_type_is('iam', 'referrals', 'converted_at', 'timestamp with time zone', 'Column iam.referrals.converted_at should be timestamptz');

------------------------------------------------------------------------------
-- Primary keys (9)
------------------------------------------------------------------------------

SELECT col_is_pk('iam', 'users', 'id', 'iam.users(id) should be the primary key');
SELECT col_is_pk('iam', 'roles', 'id', 'iam.roles(id) should be the primary key');
SELECT col_is_pk('iam', 'user_roles', ARRAY['user_id', 'role_id']::name[],
    'iam.user_roles(user_id, role_id) should be the primary key');
SELECT col_is_pk('iam', 'companies', 'id', 'iam.companies(id) should be the primary key');
SELECT col_is_pk('iam', 'company_users', ARRAY['user_id', 'company_id']::name[],
    'iam.company_users(user_id, company_id) should be the primary key');
SELECT col_is_pk('iam', 'user_settings', 'user_id', 'iam.user_settings(user_id) should be the primary key');
SELECT col_is_pk('iam', 'api_keys', 'id', 'iam.api_keys(id) should be the primary key');
SELECT col_is_pk('iam', 'referral_codes', 'id', 'iam.referral_codes(id) should be the primary key');
SELECT col_is_pk('iam', 'referrals', 'id', 'iam.referrals(id) should be the primary key');

------------------------------------------------------------------------------
-- Unique columns (7)
------------------------------------------------------------------------------

SELECT col_is_unique('iam', 'users', 'email', 'iam.users(email) should be unique');
SELECT col_is_unique('iam', 'roles', 'name', 'iam.roles(name) should be unique');
SELECT col_is_unique('iam', 'api_keys', 'key_prefix', 'iam.api_keys(key_prefix) should be unique');
SELECT col_is_unique('iam', 'api_keys', 'hashed_key', 'iam.api_keys(hashed_key) should be unique');
SELECT col_is_unique('iam', 'referral_codes', 'user_id', 'iam.referral_codes(user_id) should be unique');
SELECT col_is_unique('iam', 'referral_codes', 'code', 'iam.referral_codes(code) should be unique');
SELECT col_is_unique('iam', 'referrals', 'referred_user_id', 'iam.referrals(referred_user_id) should be unique');

------------------------------------------------------------------------------
-- Foreign keys: every DBML ref (11 + 1)
------------------------------------------------------------------------------

SELECT fk_ok('iam', 'user_roles', 'user_id', 'iam', 'users', 'id',
    'iam.user_roles(user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'user_roles', 'role_id', 'iam', 'roles', 'id',
    'iam.user_roles(role_id) should reference iam.roles(id)');
SELECT fk_ok('iam', 'company_users', 'user_id', 'iam', 'users', 'id',
    'iam.company_users(user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'company_users', 'company_id', 'iam', 'companies', 'id',
    'iam.company_users(company_id) should reference iam.companies(id)');
SELECT fk_ok('iam', 'user_settings', 'user_id', 'iam', 'users', 'id',
    'iam.user_settings(user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'api_keys', 'user_id', 'iam', 'users', 'id',
    'iam.api_keys(user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'api_keys', 'company_id', 'iam', 'companies', 'id',
    'iam.api_keys(company_id) should reference iam.companies(id)');
SELECT fk_ok('iam', 'referral_codes', 'user_id', 'iam', 'users', 'id',
    'iam.referral_codes(user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'referrals', 'referrer_user_id', 'iam', 'users', 'id',
    'iam.referrals(referrer_user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'referrals', 'referred_user_id', 'iam', 'users', 'id',
    'iam.referrals(referred_user_id) should reference iam.users(id)');
SELECT fk_ok('iam', 'referrals', 'referral_code_used_id', 'iam', 'referral_codes', 'id',
    'iam.referrals(referral_code_used_id) should reference iam.referral_codes(id)');

-- Exactly these foreign keys, with their ON DELETE action (c = CASCADE,
-- a = NO ACTION): a role still held by someone cannot be deleted (1).
SELECT set_eq(
    $$SELECT c.conrelid::regclass::text, a.attname::text, c.confrelid::regclass::text,
             c.confdeltype::text
        FROM pg_catalog.pg_constraint AS c
        JOIN pg_catalog.pg_attribute AS a
          ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
       WHERE c.connamespace = 'iam'::regnamespace AND c.contype = 'f'$$,
    $$VALUES ('iam.user_roles', 'user_id', 'iam.users', 'c'),
             ('iam.user_roles', 'role_id', 'iam.roles', 'a'),
             ('iam.company_users', 'user_id', 'iam.users', 'c'),
             ('iam.company_users', 'company_id', 'iam.companies', 'c'),
             ('iam.user_settings', 'user_id', 'iam.users', 'c'),
             ('iam.api_keys', 'user_id', 'iam.users', 'c'),
             ('iam.api_keys', 'company_id', 'iam.companies', 'c'),
             ('iam.referral_codes', 'user_id', 'iam.users', 'c'),
             ('iam.referrals', 'referrer_user_id', 'iam.users', 'c'),
             ('iam.referrals', 'referred_user_id', 'iam.users', 'c'),
             ('iam.referrals', 'referral_code_used_id', 'iam.referral_codes', 'c'),
             ('iam.company_invitations', 'company_id', 'iam.companies', 'c'),
             ('iam.member_profiles', 'user_id', 'iam.users', 'c'),
             ('iam.external_identities', 'user_id', 'iam.users', 'c'),
             ('iam.api_keys', 'replaces_key_id', 'iam.api_keys', 'n'),
             ('iam.role_permissions', 'role_id', 'iam.roles', 'c'),
             ('iam.company_roles', 'company_id', 'iam.companies', 'c'),
             ('iam.company_role_permissions', 'company_role_id', 'iam.company_roles', 'c'),
             ('iam.company_member_roles', 'company_role_id', 'iam.company_roles', 'c'),
             -- (user_id, company_id): a role is held only through a membership
             ('iam.company_member_roles', 'user_id', 'iam.company_users', 'c'),
             ('iam.company_member_roles', 'company_id', 'iam.company_users', 'c')$$,
    'Schema iam should have exactly the DBML foreign keys, with the documented ON DELETE actions');

------------------------------------------------------------------------------
-- NOT NULL where the DBML says so (15)
------------------------------------------------------------------------------

SELECT col_not_null('iam', 'roles', 'name', 'iam.roles.name should be NOT NULL');
SELECT col_not_null('iam', 'user_roles', 'user_id', 'iam.user_roles.user_id should be NOT NULL');
SELECT col_not_null('iam', 'user_roles', 'role_id', 'iam.user_roles.role_id should be NOT NULL');
SELECT col_not_null('iam', 'companies', 'name', 'iam.companies.name should be NOT NULL');
SELECT col_not_null('iam', 'company_users', 'user_id', 'iam.company_users.user_id should be NOT NULL');
SELECT col_not_null('iam', 'company_users', 'company_id', 'iam.company_users.company_id should be NOT NULL');
SELECT col_not_null('iam', 'user_settings', 'preferred_language', 'iam.user_settings.preferred_language should be NOT NULL');
SELECT col_not_null('iam', 'api_keys', 'name', 'iam.api_keys.name should be NOT NULL');
SELECT col_not_null('iam', 'api_keys', 'key_prefix', 'iam.api_keys.key_prefix should be NOT NULL');
SELECT col_not_null('iam', 'api_keys', 'hashed_key', 'iam.api_keys.hashed_key should be NOT NULL');
SELECT col_not_null('iam', 'referral_codes', 'user_id', 'iam.referral_codes.user_id should be NOT NULL');
SELECT col_not_null('iam', 'referral_codes', 'code', 'iam.referral_codes.code should be NOT NULL');
SELECT col_not_null('iam', 'referrals', 'referrer_user_id', 'iam.referrals.referrer_user_id should be NOT NULL');
SELECT col_not_null('iam', 'referrals', 'referred_user_id', 'iam.referrals.referred_user_id should be NOT NULL');
SELECT col_not_null('iam', 'referrals', 'referral_code_used_id', 'iam.referrals.referral_code_used_id should be NOT NULL');

------------------------------------------------------------------------------
-- Deliberate NOT NULLs: flags, timestamps and statuses that have a default
-- (17)
------------------------------------------------------------------------------

SELECT col_not_null('iam', 'roles', 'created_at', 'iam.roles.created_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'user_roles', 'created_at', 'iam.user_roles.created_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'companies', 'current_iam_status', 'iam.companies.current_iam_status should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'companies', 'created_at', 'iam.companies.created_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'companies', 'is_deleted', 'iam.companies.is_deleted should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'company_users', 'joined_at', 'iam.company_users.joined_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'company_users', 'is_active_in_company', 'iam.company_users.is_active_in_company should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'user_settings', 'theme', 'iam.user_settings.theme should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'user_settings', 'notifications_enabled_email', 'iam.user_settings.notifications_enabled_email should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'user_settings', 'notifications_enabled_in_app', 'iam.user_settings.notifications_enabled_in_app should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'user_settings', 'created_at', 'iam.user_settings.created_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'api_keys', 'created_at', 'iam.api_keys.created_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'api_keys', 'is_active', 'iam.api_keys.is_active should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'referral_codes', 'is_active', 'iam.referral_codes.is_active should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'referral_codes', 'created_at', 'iam.referral_codes.created_at should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'referrals', 'status', 'iam.referrals.status should be NOT NULL (deliberate)');
SELECT col_not_null('iam', 'referrals', 'created_at', 'iam.referrals.created_at should be NOT NULL (deliberate)');

------------------------------------------------------------------------------
-- Nullable where the DBML leaves a column optional (api_keys.user_id and
-- company_id are explicitly [null]) (15)
------------------------------------------------------------------------------

SELECT col_is_null('iam', 'users', 'email', 'iam.users.email should be nullable');
SELECT col_is_null('iam', 'users', 'full_name', 'iam.users.full_name should be nullable');
SELECT col_is_null('iam', 'users', 'raw_app_meta_data', 'iam.users.raw_app_meta_data should be nullable');
SELECT col_is_null('iam', 'users', 'raw_user_meta_data', 'iam.users.raw_user_meta_data should be nullable');
SELECT col_is_null('iam', 'roles', 'description', 'iam.roles.description should be nullable');
SELECT col_is_null('iam', 'companies', 'updated_at', 'iam.companies.updated_at should be nullable');
SELECT col_is_null('iam', 'companies', 'deleted_at', 'iam.companies.deleted_at should be nullable');
SELECT col_is_null('iam', 'user_settings', 'updated_at', 'iam.user_settings.updated_at should be nullable');
SELECT col_is_null('iam', 'api_keys', 'user_id', 'iam.api_keys.user_id should be nullable');
SELECT col_is_null('iam', 'api_keys', 'company_id', 'iam.api_keys.company_id should be nullable');
SELECT col_is_null('iam', 'api_keys', 'permissions', 'iam.api_keys.permissions should be nullable');
SELECT col_is_null('iam', 'api_keys', 'expires_at', 'iam.api_keys.expires_at should be nullable');
SELECT col_is_null('iam', 'api_keys', 'last_used_at', 'iam.api_keys.last_used_at should be nullable');
SELECT col_is_null('iam', 'referral_codes', 'expires_at', 'iam.referral_codes.expires_at should be nullable');
SELECT col_is_null('iam', 'referrals', 'converted_at', 'iam.referrals.converted_at should be nullable');

------------------------------------------------------------------------------
-- Defaults (23); gen_random_uuid() replaces uuid_generate_v4() on purpose
------------------------------------------------------------------------------

SELECT col_default_is('iam', 'roles', 'id', 'gen_random_uuid()'::text, 'iam.roles.id should default to gen_random_uuid()');
SELECT col_default_is('iam', 'roles', 'created_at', 'now()'::text, 'iam.roles.created_at should default to now()');
SELECT col_default_is('iam', 'user_roles', 'created_at', 'now()'::text, 'iam.user_roles.created_at should default to now()');
SELECT col_default_is('iam', 'companies', 'id', 'gen_random_uuid()'::text, 'iam.companies.id should default to gen_random_uuid()');
SELECT col_default_is('iam', 'companies', 'current_iam_status', 'active'::text, 'iam.companies.current_iam_status should default to ''active''');
SELECT col_default_is('iam', 'companies', 'created_at', 'now()'::text, 'iam.companies.created_at should default to now()');
SELECT col_default_is('iam', 'companies', 'is_deleted', FALSE, 'iam.companies.is_deleted should default to false');
SELECT col_default_is('iam', 'company_users', 'joined_at', 'now()'::text, 'iam.company_users.joined_at should default to now()');
SELECT col_default_is('iam', 'company_users', 'is_active_in_company', TRUE, 'iam.company_users.is_active_in_company should default to true');
SELECT col_default_is('iam', 'user_settings', 'preferred_language', 'en'::text, 'iam.user_settings.preferred_language should default to ''en''');
SELECT col_default_is('iam', 'user_settings', 'theme', 'light'::text, 'iam.user_settings.theme should default to ''light''');
SELECT col_default_is('iam', 'user_settings', 'notifications_enabled_email', TRUE, 'iam.user_settings.notifications_enabled_email should default to true');
SELECT col_default_is('iam', 'user_settings', 'notifications_enabled_in_app', TRUE, 'iam.user_settings.notifications_enabled_in_app should default to true');
SELECT col_default_is('iam', 'user_settings', 'created_at', 'now()'::text, 'iam.user_settings.created_at should default to now()');
SELECT col_default_is('iam', 'api_keys', 'id', 'gen_random_uuid()'::text, 'iam.api_keys.id should default to gen_random_uuid()');
SELECT col_default_is('iam', 'api_keys', 'created_at', 'now()'::text, 'iam.api_keys.created_at should default to now()');
SELECT col_default_is('iam', 'api_keys', 'is_active', TRUE, 'iam.api_keys.is_active should default to true');
SELECT col_default_is('iam', 'referral_codes', 'id', 'gen_random_uuid()'::text, 'iam.referral_codes.id should default to gen_random_uuid()');
SELECT col_default_is('iam', 'referral_codes', 'is_active', TRUE, 'iam.referral_codes.is_active should default to true');
SELECT col_default_is('iam', 'referral_codes', 'created_at', 'now()'::text, 'iam.referral_codes.created_at should default to now()');
SELECT col_default_is('iam', 'referrals', 'id', 'gen_random_uuid()'::text, 'iam.referrals.id should default to gen_random_uuid()');
SELECT col_default_is('iam', 'referrals', 'status', 'pending'::text, 'iam.referrals.status should default to ''pending''');
SELECT col_default_is('iam', 'referrals', 'created_at', 'now()'::text, 'iam.referrals.created_at should default to now()');

------------------------------------------------------------------------------
-- No default where the value comes from elsewhere (4): users.id is
-- auth.users.id, user_settings.user_id is a user's id, updated_at is set by
-- the trigger.
------------------------------------------------------------------------------

SELECT col_hasnt_default('iam', 'users', 'id', 'iam.users.id should have no default (it is auth.users.id)');
SELECT col_hasnt_default('iam', 'user_settings', 'user_id', 'iam.user_settings.user_id should have no default');
SELECT col_hasnt_default('iam', 'companies', 'updated_at', 'iam.companies.updated_at should have no default');
SELECT col_hasnt_default('iam', 'user_settings', 'updated_at', 'iam.user_settings.updated_at should have no default');

------------------------------------------------------------------------------
-- CHECK constraints (6): the enumerations, the api_keys owner, no
-- self-referral (docs/schema.md), and no others
------------------------------------------------------------------------------

SELECT col_has_check('iam', 'companies', 'current_iam_status',
    'iam.companies.current_iam_status should have a CHECK constraint');
SELECT col_has_check('iam', 'user_settings', 'theme',
    'iam.user_settings.theme should have a CHECK constraint');
SELECT col_has_check('iam', 'referrals', 'status',
    'iam.referrals.status should have a CHECK constraint');
SELECT col_has_check('iam', 'api_keys', ARRAY['user_id', 'company_id']::name[],
    'iam.api_keys should have a CHECK constraint on (user_id, company_id): a key has an owner');
SELECT col_has_check('iam', 'referrals', ARRAY['referrer_user_id', 'referred_user_id']::name[],
    'iam.referrals should have a CHECK constraint on (referrer_user_id, referred_user_id): no self-referral');
SELECT set_eq(
    $$SELECT conname::text FROM pg_catalog.pg_constraint
       WHERE connamespace = 'iam'::regnamespace AND contype = 'c'$$,
    ARRAY['companies_current_iam_status_check', 'user_settings_theme_check',
          'api_keys_owner_check', 'referrals_status_check', 'referrals_not_self_check',
          'audit_log_action_check', 'api_key_peppers_version_check', 'api_key_peppers_pepper_check',
          'company_users_role_in_company_check', 'company_invitations_role_in_company_check',
          'company_invitations_invitee_check', 'api_keys_remaining_check',
          'permissions_name_check', 'role_permissions_permission_check',
          'company_roles_name_check', 'company_role_permissions_permission_check',
          'external_identities_issuer_check', 'external_identities_subject_check'],
    'Schema iam should have exactly the documented CHECK constraints');

------------------------------------------------------------------------------
-- Indexes on foreign keys (6)
------------------------------------------------------------------------------

SELECT has_index('iam', 'user_roles', 'user_roles_role_id_idx', 'role_id',
    'Index user_roles_role_id_idx should index iam.user_roles(role_id)');
SELECT has_index('iam', 'company_users', 'company_users_company_id_idx', 'company_id',
    'Index company_users_company_id_idx should index iam.company_users(company_id)');
SELECT has_index('iam', 'api_keys', 'api_keys_user_id_idx', 'user_id',
    'Index api_keys_user_id_idx should index iam.api_keys(user_id)');
SELECT has_index('iam', 'api_keys', 'api_keys_company_id_idx', 'company_id',
    'Index api_keys_company_id_idx should index iam.api_keys(company_id)');
SELECT has_index('iam', 'referrals', 'referrals_referrer_user_id_idx', 'referrer_user_id',
    'Index referrals_referrer_user_id_idx should index iam.referrals(referrer_user_id)');
SELECT has_index('iam', 'referrals', 'referrals_referral_code_used_id_idx', 'referral_code_used_id',
    'Index referrals_referral_code_used_id_idx should index iam.referrals(referral_code_used_id)');

------------------------------------------------------------------------------
-- Seeded roles: exactly the seven of the DBML note, with fixed ids (1)
------------------------------------------------------------------------------

SELECT results_eq(
    $$SELECT id, name::text FROM iam.roles ORDER BY id$$,
    $$VALUES ('00000000-0000-4000-8000-000000000001'::uuid, 'solo_learner'::text),
             ('00000000-0000-4000-8000-000000000002'::uuid, 'enterprise_employee'::text),
             ('00000000-0000-4000-8000-000000000003'::uuid, 'enterprise_admin'::text),
             ('00000000-0000-4000-8000-000000000004'::uuid, 'course_creator'::text),
             ('00000000-0000-4000-8000-000000000005'::uuid, 'consultant'::text),
             ('00000000-0000-4000-8000-000000000006'::uuid, 'support_agent'::text),
             ('00000000-0000-4000-8000-000000000007'::uuid, 'platform_admin'::text)$$,
    'iam.roles should hold exactly the seven built-in roles with their fixed ids');

------------------------------------------------------------------------------
-- updated_at triggers (4)
------------------------------------------------------------------------------

SELECT has_trigger('iam', 'companies', 'companies_set_updated_at',
    'Table iam.companies should have trigger companies_set_updated_at');
SELECT trigger_is('iam', 'companies', 'companies_set_updated_at', 'iam', 'set_updated_at',
    'Trigger companies_set_updated_at should call iam.set_updated_at()');
SELECT has_trigger('iam', 'user_settings', 'user_settings_set_updated_at',
    'Table iam.user_settings should have trigger user_settings_set_updated_at');
SELECT trigger_is('iam', 'user_settings', 'user_settings_set_updated_at', 'iam', 'set_updated_at',
    'Trigger user_settings_set_updated_at should call iam.set_updated_at()');

------------------------------------------------------------------------------
-- iam.set_updated_at() is not executable by PUBLIC (2). The role below has
-- no grants of its own, so all it could have is what PUBLIC has; ROLLBACK
-- removes it.
------------------------------------------------------------------------------

CREATE ROLE iam_pgtap_nobody NOLOGIN;

SELECT function_privs_are('iam', 'set_updated_at', ARRAY[]::name[],
    'iam_pgtap_nobody', ARRAY[]::name[],
    'A role with no privileges should not be able to execute iam.set_updated_at()');
SELECT ok(
    (SELECT p.proacl IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) AS a
                             WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
       FROM pg_catalog.pg_proc AS p
      WHERE p.oid = 'iam.set_updated_at()'::regprocedure),
    'The ACL of iam.set_updated_at() should grant no EXECUTE to PUBLIC');

------------------------------------------------------------------------------
-- The extension owns schema iam and every table (2)
------------------------------------------------------------------------------

SELECT ok(
    EXISTS (SELECT 1
              FROM pg_catalog.pg_depend AS d
              JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
             WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
               AND d.objid = 'iam'::regnamespace
               AND d.refclassid = 'pg_catalog.pg_extension'::regclass
               AND d.deptype = 'e'
               AND e.extname = 'iam_ext'),
    'Schema iam should belong to extension iam_ext');
SELECT set_eq(
    $$SELECT c.relname::text
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
        JOIN pg_catalog.pg_class AS c ON c.oid = d.objid
       WHERE d.classid = 'pg_catalog.pg_class'::regclass
         AND d.refclassid = 'pg_catalog.pg_extension'::regclass
         AND d.deptype = 'e'
         AND e.extname = 'iam_ext'
         AND c.relkind = 'r'
         AND c.relnamespace = 'iam'::regnamespace$$,
    ARRAY['users', 'roles', 'user_roles', 'companies', 'company_users',
          'user_settings', 'api_keys', 'referral_codes', 'referrals', 'audit_log', 'api_key_peppers',
          'company_invitations', 'member_profiles', 'permissions', 'role_permissions', 'company_roles',
          'company_role_permissions', 'company_member_roles', 'external_identities'],
    'Each table of schema iam should belong to extension iam_ext');

SELECT * FROM finish();
ROLLBACK;
