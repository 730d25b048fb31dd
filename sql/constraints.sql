-- Every key and constraint rejects bad rows with its SQLSTATE and changes
-- nothing. Fixtures: two users, a company, a key, a code.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
\set VERBOSITY terse
INSERT INTO iam.users (id, email) VALUES
    ('11111111-1111-4111-8111-111111111111', 'ada@example.com'),
    ('22222222-2222-4222-8222-222222222222', 'grace@example.com');
INSERT INTO iam.companies (id, name) VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'Acme Learning');
INSERT INTO iam.referral_codes (id, user_id, code)
    VALUES ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', '11111111-1111-4111-8111-111111111111', 'ADA12345');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key)
    VALUES ('11111111-1111-4111-8111-111111111111', 'ci', 'abcd1234', 'hash-1');

-- users: id required, email unique (NULL emails may repeat: phone-only users)
INSERT INTO iam.users (id) VALUES (NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.users (id, email) VALUES ('33333333-3333-4333-8333-333333333333', 'ada@example.com');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.users (id) VALUES ('44444444-4444-4444-8444-444444444444'), ('55555555-5555-4555-8555-555555555555');
DELETE FROM iam.users WHERE email IS NULL;

-- roles: name required and unique
INSERT INTO iam.roles (name) VALUES (NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.roles (name) VALUES ('platform_admin');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- user_roles: one row per (user, role), both must exist; a role in use stays
INSERT INTO iam.user_roles (user_id, role_id)
    VALUES ('11111111-1111-4111-8111-111111111111', '00000000-0000-4000-8000-000000000007');
INSERT INTO iam.user_roles (user_id, role_id)
    VALUES ('11111111-1111-4111-8111-111111111111', '00000000-0000-4000-8000-000000000007');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.user_roles (user_id, role_id)
    VALUES ('99999999-9999-4999-8999-999999999999', '00000000-0000-4000-8000-000000000007');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.user_roles (user_id, role_id)
    VALUES ('11111111-1111-4111-8111-111111111111', '99999999-9999-4999-8999-999999999999');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM iam.roles WHERE name = 'platform_admin';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- companies: name required, status from the DBML's list
INSERT INTO iam.companies (name) VALUES (NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.companies (name, current_iam_status) VALUES ('Bad', 'closed');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.companies (name, is_deleted) VALUES ('Bad', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE iam.companies SET current_iam_status = 'suspended_by_admin';
UPDATE iam.companies SET current_iam_status = 'pending_verification';

-- company_users: one membership per (user, company)
INSERT INTO iam.company_users (user_id, company_id)
    VALUES ('11111111-1111-4111-8111-111111111111', 'cccccccc-cccc-4ccc-8ccc-cccccccccccc');
INSERT INTO iam.company_users (user_id, company_id)
    VALUES ('11111111-1111-4111-8111-111111111111', 'cccccccc-cccc-4ccc-8ccc-cccccccccccc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.company_users (user_id, company_id)
    VALUES ('22222222-2222-4222-8222-222222222222', '99999999-9999-4999-8999-999999999999');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- user_settings: one row per user, theme from the list, language required
INSERT INTO iam.user_settings (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
INSERT INTO iam.user_settings (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.user_settings (user_id, theme) VALUES ('22222222-2222-4222-8222-222222222222', 'blue');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.user_settings (user_id, preferred_language)
    VALUES ('22222222-2222-4222-8222-222222222222', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- api_keys: an owner, a unique 8-character prefix, a unique hash
INSERT INTO iam.api_keys (name, key_prefix, hashed_key) VALUES ('orphan', 'zzzz0000', 'hash-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.api_keys (company_id, name, key_prefix, hashed_key)
    VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'long', 'zzzz00000', 'hash-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.api_keys (company_id, name, key_prefix, hashed_key)
    VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'dup prefix', 'abcd1234', 'hash-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.api_keys (company_id, name, key_prefix, hashed_key)
    VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'dup hash', 'zzzz0000', 'hash-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.api_keys (company_id, name, key_prefix, hashed_key)
    VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', NULL, 'zzzz0000', 'hash-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.api_keys (company_id, name, key_prefix, hashed_key)
    VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'company key', 'zzzz0000', 'hash-2');

-- referral_codes: one code per user, codes unique
INSERT INTO iam.referral_codes (user_id, code) VALUES ('11111111-1111-4111-8111-111111111111', 'ADA2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.referral_codes (user_id, code) VALUES ('22222222-2222-4222-8222-222222222222', 'ADA12345');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.referral_codes (user_id, code) VALUES ('22222222-2222-4222-8222-222222222222', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- referrals: nobody refers themselves, a user is referred once, status from the list
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
    VALUES ('11111111-1111-4111-8111-111111111111', '11111111-1111-4111-8111-111111111111',
            'dddddddd-dddd-4ddd-8ddd-dddddddddddd');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id, status)
    VALUES ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
            'dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'paid');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
    VALUES ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
            'dddddddd-dddd-4ddd-8ddd-dddddddddddd');
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
    VALUES ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222',
            'dddddddd-dddd-4ddd-8ddd-dddddddddddd');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
    VALUES ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111',
            '99999999-9999-4999-8999-999999999999');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Nothing above half-wrote a row.
SELECT 'users' AS table_name, count(*) FROM iam.users
UNION ALL SELECT 'roles', count(*) FROM iam.roles
UNION ALL SELECT 'user_roles', count(*) FROM iam.user_roles
UNION ALL SELECT 'companies', count(*) FROM iam.companies
UNION ALL SELECT 'company_users', count(*) FROM iam.company_users
UNION ALL SELECT 'user_settings', count(*) FROM iam.user_settings
UNION ALL SELECT 'api_keys', count(*) FROM iam.api_keys
UNION ALL SELECT 'referral_codes', count(*) FROM iam.referral_codes
UNION ALL SELECT 'referrals', count(*) FROM iam.referrals;

-- Deleting a user removes what belongs to them (docs/schema.md, "Deletes").
DELETE FROM iam.users WHERE id = '11111111-1111-4111-8111-111111111111';
SELECT 'user_roles' AS table_name, count(*) FROM iam.user_roles
UNION ALL SELECT 'company_users', count(*) FROM iam.company_users
UNION ALL SELECT 'user_settings', count(*) FROM iam.user_settings
UNION ALL SELECT 'api_keys', count(*) FROM iam.api_keys
UNION ALL SELECT 'referral_codes', count(*) FROM iam.referral_codes
UNION ALL SELECT 'referrals', count(*) FROM iam.referrals;

-- Deleting a company removes its memberships and its keys.
DELETE FROM iam.companies;
SELECT count(*) AS company_keys_left FROM iam.api_keys;

DELETE FROM iam.users;
\set VERBOSITY default
