-- Defaults of every table: a row inserted with only its required columns.
-- Timestamps are compared with now() (the transaction's start), generated
-- ids are shown as present or not.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
BEGIN;

INSERT INTO iam.users (id) VALUES ('11111111-1111-4111-8111-111111111111');
SELECT * FROM iam.users;

INSERT INTO iam.roles (name) VALUES ('beta_tester');
SELECT id IS NOT NULL AS has_id, description, created_at = now() AS created_now
FROM iam.roles WHERE name = 'beta_tester';

INSERT INTO iam.user_roles (user_id, role_id)
    SELECT '11111111-1111-4111-8111-111111111111', id FROM iam.roles WHERE name = 'solo_learner';
SELECT created_at = now() AS created_now FROM iam.user_roles;

INSERT INTO iam.companies (name) VALUES ('Acme Learning');
SELECT id IS NOT NULL AS has_id, current_iam_status, created_at = now() AS created_now,
       updated_at, is_deleted, deleted_at
FROM iam.companies;

INSERT INTO iam.company_users (user_id, company_id)
    SELECT '11111111-1111-4111-8111-111111111111', id FROM iam.companies;
SELECT joined_at = now() AS joined_now, is_active_in_company FROM iam.company_users;

INSERT INTO iam.user_settings (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
SELECT preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app,
       created_at = now() AS created_now, updated_at
FROM iam.user_settings;

INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key)
    VALUES ('11111111-1111-4111-8111-111111111111', 'ci', 'abcd1234', 'hash-1');
SELECT id IS NOT NULL AS has_id, company_id, permissions, expires_at, last_used_at,
       created_at = now() AS created_now, is_active
FROM iam.api_keys;

INSERT INTO iam.referral_codes (user_id, code)
    VALUES ('11111111-1111-4111-8111-111111111111', 'WELCOME1');
SELECT id IS NOT NULL AS has_id, is_active, created_at = now() AS created_now, expires_at
FROM iam.referral_codes;

INSERT INTO iam.users (id) VALUES ('22222222-2222-4222-8222-222222222222');
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
    SELECT '11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', id
    FROM iam.referral_codes;
SELECT id IS NOT NULL AS has_id, status, created_at = now() AS created_now, converted_at
FROM iam.referrals;

ROLLBACK;
