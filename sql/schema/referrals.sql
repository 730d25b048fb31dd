-- Referral codes: generation and the check character (C++:
-- src/core/referral_code.cpp), a user's one code, redemption
-- (src/pg/referrals/referrals.cpp), billing's advance, and the rules every write to
-- iam.referral_codes and iam.referrals is held to (src/pg/rules/referral_code_rules.cpp,
-- referral_rules.cpp).

CREATE OR REPLACE FUNCTION iam.generate_referral_code(length integer DEFAULT 8) RETURNS text
    LANGUAGE c VOLATILE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_generate_referral_code';
COMMENT ON FUNCTION iam.generate_referral_code(integer) IS
    'A random code of length characters (4 to 32) in Crockford base 32, the last a check character catching any single typo or adjacent swap';

-- One code per user: asking again returns the existing code, so a client
-- may retry. Runs as the caller: the insert passes the RLS policy of
-- iam.referral_codes (one's own code; anyone's for platform_admin).
CREATE OR REPLACE FUNCTION iam.create_referral_code(user_id uuid DEFAULT iam.current_user_id(), code text DEFAULT NULL,
                                         expires_at timestamptz DEFAULT NULL)
    RETURNS iam.referral_codes
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    vanity text;
    made iam.referral_codes;
BEGIN
    IF iam.current_user_id() IS NULL AND NOT iam.is_service_caller() THEN
        RAISE EXCEPTION 'creating a referral code needs a signed-in user'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Sign in first, or send an API key.';
    END IF;
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'there is no user to create a referral code for'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass user_id, or call as a signed-in user.';
    END IF;
    IF user_id IS DISTINCT FROM iam.current_user_id()
       AND NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to create a referral code for another user'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= statement_timestamp() THEN
        RAISE EXCEPTION 'expires_at must be in the future' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF code IS NOT NULL THEN
        vanity := iam.normalize_vanity_code(code);
    END IF;
    -- A generated code that is taken is drawn again; anything else that
    -- conflicts is the user's existing code or a taken vanity code.
    FOR attempt IN 1..5 LOOP
        INSERT INTO iam.referral_codes AS rc (user_id, code, expires_at)
        VALUES (create_referral_code.user_id, coalesce(vanity, iam.generate_referral_code(8)),
                create_referral_code.expires_at)
        ON CONFLICT DO NOTHING
        RETURNING * INTO made;
        IF made.id IS NOT NULL THEN
            RETURN made;
        END IF;
        SELECT * INTO made FROM iam.referral_codes AS rc WHERE rc.user_id = create_referral_code.user_id;
        IF made.id IS NOT NULL THEN
            RETURN made;
        END IF;
        IF vanity IS NOT NULL THEN
            RAISE EXCEPTION 'the referral code "%" is taken', vanity USING ERRCODE = 'unique_violation';
        END IF;
    END LOOP;
    RAISE EXCEPTION 'could not draw a free referral code' USING ERRCODE = 'unique_violation';
EXCEPTION WHEN foreign_key_violation THEN
    PERFORM iam.raise_not_found(format('user %s does not exist', user_id));
END
$$;
COMMENT ON FUNCTION iam.create_referral_code(uuid, text, timestamptz) IS
    'The user''s referral code, created if they have none (a generated code, or the vanity code given); 23505 if a vanity code is taken';

CREATE OR REPLACE FUNCTION iam.normalize_vanity_code(code text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_normalize_vanity_code';
COMMENT ON FUNCTION iam.normalize_vanity_code(text) IS
    'A vanity referral code as stored: trimmed, upper case, 4 to 32 of A-Z 0-9 and single inner dashes (22023 otherwise)';

CREATE OR REPLACE FUNCTION iam.redeem_referral_code(code text, referred_user_id uuid DEFAULT iam.current_user_id())
    RETURNS iam.referrals
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'iam_redeem_referral_code';
COMMENT ON FUNCTION iam.redeem_referral_code(text, uuid) IS
    'Records that the code''s owner referred the user (status pending). Typing is forgiven (case, spaces, dashes, O/0, I/L/1). Needs a signed-in caller (42501); an already referred user is 23505, a failed check character 22023, any code that cannot be redeemed P0002, a self-referral 22023; failures are limited per user (53400)';

-- Billing moves a referral forward; users do not.
CREATE OR REPLACE FUNCTION iam.advance_referral(referral_id uuid, status text) RETURNS iam.referrals
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    steps constant text[] := ARRAY['pending', 'completed_signup', 'subscription_activated'];
    current_status text;
    advanced iam.referrals;
BEGIN
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to advance referrals'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Billing advances referrals, as the service role or a platform_admin.';
    END IF;
    IF referral_id IS NULL THEN
        RAISE EXCEPTION 'referral_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF status IS NULL OR NOT status = ANY (steps) THEN
        RAISE EXCEPTION 'invalid referral status: %', coalesce(quote_literal(left(status, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A status is one of pending, completed_signup, subscription_activated.';
    END IF;
    SELECT r.status INTO current_status FROM iam.referrals AS r WHERE r.id = referral_id FOR UPDATE;
    IF current_status IS NULL THEN
        PERFORM iam.raise_not_found(format('referral %s does not exist', referral_id));
    END IF;
    IF array_position(steps, status) <= array_position(steps, current_status) THEN
        RAISE EXCEPTION 'a referral moves only forward: % -> % is not allowed', current_status, status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iam.referrals AS r
    SET status = advance_referral.status, converted_at = coalesce(r.converted_at, statement_timestamp())
    WHERE r.id = referral_id
    RETURNING * INTO advanced;
    RETURN advanced;
END
$$;
COMMENT ON FUNCTION iam.advance_referral(uuid, text) IS
    'pending -> completed_signup -> subscription_activated, forward only (22023 otherwise); sets converted_at on the first conversion; service role and platform_admin only';

CREATE OR REPLACE FUNCTION iam.guard_referral_code() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_referral_code';
COMMENT ON FUNCTION iam.guard_referral_code() IS
    'BEFORE INSERT OR UPDATE trigger of referral_codes: one spelling per code (no vanity code that reads as a generated one); only platform_admin reactivates a code';
REVOKE EXECUTE ON FUNCTION iam.guard_referral_code() FROM PUBLIC;
CREATE OR REPLACE TRIGGER referral_codes_guard BEFORE INSERT OR UPDATE ON iam.referral_codes
    FOR EACH ROW EXECUTE FUNCTION iam.guard_referral_code();

CREATE OR REPLACE FUNCTION iam.guard_referral() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_referral';
COMMENT ON FUNCTION iam.guard_referral() IS
    'BEFORE INSERT OR UPDATE trigger of referrals: the code used is active and unexpired, and its owner is the referrer';
REVOKE EXECUTE ON FUNCTION iam.guard_referral() FROM PUBLIC;
CREATE OR REPLACE TRIGGER referrals_guard BEFORE INSERT OR UPDATE OF referral_code_used_id, referrer_user_id
    ON iam.referrals FOR EACH ROW EXECUTE FUNCTION iam.guard_referral();

