-- Referral codes (0.5.0): generation, one code per user, vanity codes,
-- redemption and every refusal, advancing a referral. Generated codes are
-- random: the output shows their properties.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
\set SHOW_CONTEXT never

\i test/fixtures/people.sql

-- Generation: the asked length, Crockford's alphabet, lengths 4 to 32.
SELECT length, length(c) = length AS right_length, c ~ '^[0-9A-HJKMNP-TV-Z]+$' AS crockford
FROM (VALUES (4), (8), (32)) AS l (length), LATERAL iam.generate_referral_code(length) AS c;
SELECT iam.generate_referral_code(3);
SELECT iam.generate_referral_code(33);
SELECT iam.generate_referral_code(NULL) IS NULL AS null_length;
SELECT count(DISTINCT iam.generate_referral_code()) AS distinct_of_1000 FROM generate_series(1, 1000);

-- One code per user; asking again returns it.
SELECT code AS alice_code FROM iam.create_referral_code('a0000000-0000-4000-8000-0000000000a1') \gset
SELECT length(:'alice_code') AS length,
       (iam.create_referral_code('a0000000-0000-4000-8000-0000000000a1')).code = :'alice_code' AS same_code_again,
       (SELECT count(*) FROM iam.referral_codes WHERE user_id = 'a0000000-0000-4000-8000-0000000000a1') AS rows;

-- Vanity codes: stored upper case; taken or malformed ones are refused.
SELECT code, is_active, expires_at IS NOT NULL AS expires
FROM iam.create_referral_code('a0000000-0000-4000-8000-0000000000a2', ' spring-2026 ', now() + interval '30 days');
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000d1', 'SPRING-2026');
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000d1', 'spring--2026');
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000d1', 'été-2026');
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000d1', 'abc');
-- A vanity code that reads as a generated code (7K3M9Q2M is one) is refused:
-- typed that way, it would take the generated code's redemptions.
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000d1', '7k3m-9q2m');
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000d1', expires_at => now() - interval '1 s');
SELECT iam.create_referral_code(NULL);
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000ff');

-- From here Alice's code is a known one: 7K3M9Q2M, body 7K3M9Q2 with its
-- check character M (computed by an independent implementation of the
-- scheme in docs/referrals.md).
UPDATE iam.referral_codes SET code = '7K3M9Q2M' WHERE user_id = 'a0000000-0000-4000-8000-0000000000a1';
\set alice_code 7K3M9Q2M

-- Redemption forgives how people type; the referral starts pending.
SELECT r.status, u.full_name AS referrer, r.converted_at
FROM iam.redeem_referral_code(' 7k3m-9q2m ', 'a0000000-0000-4000-8000-0000000000d1') AS r
JOIN iam.users AS u ON u.id = r.referrer_user_id;
SELECT u.full_name AS referrer
FROM iam.redeem_referral_code('Spring-2026', 'a0000000-0000-4000-8000-0000000000d2') AS r
JOIN iam.users AS u ON u.id = r.referrer_user_id;

-- Refusals.
SELECT iam.redeem_referral_code(:'alice_code', 'a0000000-0000-4000-8000-0000000000d1');   -- already referred
SELECT iam.redeem_referral_code(:'alice_code', 'a0000000-0000-4000-8000-0000000000a1');   -- own code
SELECT iam.redeem_referral_code('7K3N9Q2M', 'a0000000-0000-4000-8000-0000000000a2');   -- one typo
SELECT iam.redeem_referral_code('K73M9Q2M', 'a0000000-0000-4000-8000-0000000000a2');   -- swapped pair
SELECT iam.redeem_referral_code('7K3M9QM2', 'a0000000-0000-4000-8000-0000000000a2');   -- swap with the check
SELECT iam.redeem_referral_code('7K3M9Q2', 'a0000000-0000-4000-8000-0000000000a2');    -- one missing
SELECT iam.redeem_referral_code('no-such-code', 'a0000000-0000-4000-8000-0000000000a2');
SELECT iam.redeem_referral_code('', 'a0000000-0000-4000-8000-0000000000a2');
SELECT iam.redeem_referral_code(repeat('A', 1000000), 'a0000000-0000-4000-8000-0000000000a2');
SELECT iam.redeem_referral_code(NULL, 'a0000000-0000-4000-8000-0000000000a2');
SELECT iam.redeem_referral_code(:'alice_code', NULL);
UPDATE iam.referral_codes SET is_active = false WHERE code = 'SPRING-2026';
SELECT iam.redeem_referral_code('spring-2026', 'a0000000-0000-4000-8000-0000000000a2');
UPDATE iam.referral_codes SET is_active = true, expires_at = now() - interval '1 s' WHERE code = 'SPRING-2026';
SELECT iam.redeem_referral_code('spring-2026', 'a0000000-0000-4000-8000-0000000000a2');
SELECT count(*) AS referrals FROM iam.referrals;

-- An unknown code that passes its check character: P0002.
DO $$
DECLARE
    candidate text;
BEGIN
    LOOP
        candidate := iam.generate_referral_code(8);
        EXIT WHEN NOT EXISTS (SELECT FROM iam.referral_codes AS rc WHERE rc.code = candidate);
    END LOOP;
    PERFORM iam.redeem_referral_code(candidate, 'a0000000-0000-4000-8000-0000000000a2');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'unknown code -> SQLSTATE %: %', SQLSTATE, SQLERRM;
END
$$;

-- Advancing: forward only; converted_at on the first conversion.
SELECT id AS nina_referral FROM iam.referrals WHERE referred_user_id = 'a0000000-0000-4000-8000-0000000000d1' \gset
SELECT status, converted_at IS NOT NULL AS converted FROM iam.advance_referral(:'nina_referral', 'completed_signup');
SELECT converted_at AS first_conversion FROM iam.referrals WHERE id = :'nina_referral' \gset
SELECT status, converted_at = :'first_conversion' AS converted_at_kept
FROM iam.advance_referral(:'nina_referral', 'subscription_activated');
SELECT iam.advance_referral(:'nina_referral', 'completed_signup');
SELECT iam.advance_referral(:'nina_referral', 'subscription_activated');
SELECT iam.advance_referral(:'nina_referral', 'refunded');
SELECT iam.advance_referral('a0000000-0000-4000-8000-0000000000ff', 'completed_signup');
-- Users do not advance their own referrals: a role of its own, with UPDATE on
-- the table, so that the function refuses, not a missing privilege.
CREATE ROLE iam_regress_user;
GRANT USAGE ON SCHEMA iam TO iam_regress_user;
GRANT SELECT, UPDATE ON iam.referrals TO iam_regress_user;
SET ROLE iam_regress_user;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000d2"}', false) IS NOT NULL AS as_gus;
SELECT iam.advance_referral((SELECT id FROM iam.referrals WHERE referred_user_id = 'a0000000-0000-4000-8000-0000000000d2'), 'completed_signup');
RESET ROLE;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS nobody;
REVOKE ALL ON iam.referrals FROM iam_regress_user;
REVOKE USAGE ON SCHEMA iam FROM iam_regress_user;
DROP ROLE iam_regress_user;

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
