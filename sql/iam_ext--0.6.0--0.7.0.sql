-- iam_ext 0.6.0 -> 0.7.0: the rules hold whichever way a row is written.
-- An API key is never more than its scope; a key's secret goes to its owner
-- only; revocation is final; referral codes and referrals keep their rules
-- under direct SQL; the built-in roles keep their names; every change to
-- keys and to the role catalogue is audited; banned and deleted Supabase
-- users' keys stop verifying. The triggers are in src/pg/write_rules.cpp.

\echo Use "ALTER EXTENSION iam_ext UPDATE TO '0.7.0'" to load this file. \quit

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

-- Two comments that still described 0.2.0.
COMMENT ON FUNCTION iam.current_user_id() IS
    'The calling user: in a request authenticated by iam.authenticate_request(), the API key''s user; else request.jwt.claim.sub, else request.jwt.claims ->> ''sub'' (as auth.uid()); NULL if none or not a UUID';
COMMENT ON FUNCTION iam.current_company_ids() IS
    'The active companies the current user is an active member of, for company_id = ANY (...) policies; in a request authenticated by a company''s API key, that company';

-- Tenant checks per row at the cost of a hash probe: the planner writes
-- company_id = ANY (iam.current_company_ids()) as this call (src/pg/roles.cpp).
CREATE FUNCTION iam.is_current_company(company_id uuid) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_current_company';
COMMENT ON FUNCTION iam.is_current_company(uuid) IS
    'Whether the company is one of iam.current_company_ids(), at the cost of a hash probe per row; the planner writes company_id = ANY (iam.current_company_ids()) as this call';

------------------------------------------------------------------------------
-- A request authenticated by an API key writes iam's tables only with the
-- permission "iam:<table>:write" (or "iam:*", or "*").
------------------------------------------------------------------------------
CREATE FUNCTION iam.require_key_permission() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_require_key_permission';
COMMENT ON FUNCTION iam.require_key_permission() IS
    'BEFORE statement trigger: in a request authenticated by an API key, a write to iam.<table> needs the key''s permission iam:<table>:write (42501)';
REVOKE EXECUTE ON FUNCTION iam.require_key_permission() FROM PUBLIC;
DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['roles', 'users', 'user_roles', 'companies', 'company_users',
                                      'user_settings', 'api_keys', 'referral_codes', 'referrals'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON iam.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION iam.require_key_permission()',
                       table_name || '_key_permission', table_name);
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- API keys: valid names and permissions, narrowing only, final revocation,
-- the secret for the owner only, the request key's own scope, a cap per
-- owner; created_by and suspended_until stamped on insert.
------------------------------------------------------------------------------
CREATE FUNCTION iam.guard_api_key() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_api_key';
COMMENT ON FUNCTION iam.guard_api_key() IS
    'BEFORE INSERT OR UPDATE trigger of api_keys: the rules of docs/security.md, "API keys", whichever way a key is written';
REVOKE EXECUTE ON FUNCTION iam.guard_api_key() FROM PUBLIC;
CREATE TRIGGER api_keys_guard BEFORE INSERT OR UPDATE ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.guard_api_key();
-- Not fired for last_used_at, remaining and refilled_at, which requests
-- write.
CREATE TRIGGER api_keys_audit
    AFTER INSERT OR DELETE OR UPDATE OF user_id, company_id, name, key_prefix, hashed_key, permissions,
        expires_at, is_active, refill_amount, refill_interval, rate_limit, rate_limit_window ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();

-- A key's user makes their own keys, a company's admins its keys; nobody
-- makes a key that acts as someone else, platform admins included.
DROP POLICY api_keys_insert ON iam.api_keys;
CREATE POLICY api_keys_insert ON iam.api_keys FOR INSERT WITH CHECK (
    (user_id = (SELECT iam.current_user_id())
     AND (company_id IS NULL OR company_id = ANY ((SELECT iam.current_company_ids())::uuid[])))
    OR (user_id IS NULL AND iam.is_company_admin(company_id)));

COMMENT ON FUNCTION iam.create_api_key(text, uuid, uuid, jsonb, timestamptz) IS
    'Creates a key for the current user, or for a company one administers; the plaintext key is in the result only, never stored';
DROP FUNCTION iam.rotate_api_key(uuid);
CREATE FUNCTION iam.rotate_api_key(key_id uuid, grace interval DEFAULT '0')
    RETURNS TABLE (id uuid, api_key text, key_prefix text)
    LANGUAGE c VOLATILE ROWS 1
    AS 'MODULE_PATHNAME', 'iam_rotate_api_key';
COMMENT ON FUNCTION iam.rotate_api_key(uuid, interval) IS
    'A new secret for an active key, same name, owner, permissions and expiry, for the key''s user (a company key: its admins) only. Without grace the old secret stops at once (same key id); with grace (up to 90 days) a new key replaces it (replaces_key_id) and the old one verifies until the grace ends, never past its expiry';

------------------------------------------------------------------------------
-- Referral codes and referrals.
------------------------------------------------------------------------------
CREATE FUNCTION iam.guard_referral_code() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_referral_code';
COMMENT ON FUNCTION iam.guard_referral_code() IS
    'BEFORE INSERT OR UPDATE trigger of referral_codes: one spelling per code (no vanity code that reads as a generated one); only platform_admin reactivates a code';
REVOKE EXECUTE ON FUNCTION iam.guard_referral_code() FROM PUBLIC;
CREATE TRIGGER referral_codes_guard BEFORE INSERT OR UPDATE ON iam.referral_codes
    FOR EACH ROW EXECUTE FUNCTION iam.guard_referral_code();

CREATE FUNCTION iam.guard_referral() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_referral';
COMMENT ON FUNCTION iam.guard_referral() IS
    'BEFORE INSERT OR UPDATE trigger of referrals: the code used is active and unexpired, and its owner is the referrer';
REVOKE EXECUTE ON FUNCTION iam.guard_referral() FROM PUBLIC;
CREATE TRIGGER referrals_guard BEFORE INSERT OR UPDATE OF referral_code_used_id, referrer_user_id
    ON iam.referrals FOR EACH ROW EXECUTE FUNCTION iam.guard_referral();

-- Creating a code takes a caller: an anonymous one is told to sign in (42501).
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

COMMENT ON FUNCTION iam.redeem_referral_code(text, uuid) IS
    'Records that the code''s owner referred the user (status pending). Typing is forgiven (case, spaces, dashes, O/0, I/L/1). Needs a signed-in caller (42501); an already referred user is 23505, a failed check character 22023, any code that cannot be redeemed P0002, a self-referral 22023; failures are limited per user (53400)';

------------------------------------------------------------------------------
-- The role catalogue: the built-in roles keep their ids and names, and every
-- change is audited.
------------------------------------------------------------------------------
CREATE FUNCTION iam.guard_role() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_role';
COMMENT ON FUNCTION iam.guard_role() IS
    'BEFORE UPDATE OR DELETE trigger of roles: the seven built-in roles keep their ids and names, for everyone but the operator';
REVOKE EXECUTE ON FUNCTION iam.guard_role() FROM PUBLIC;
CREATE TRIGGER roles_guard BEFORE UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_role();
CREATE TRIGGER roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles, company_users, roles and api_keys: writes iam.audit_log as the table''s owner';

------------------------------------------------------------------------------
-- Supabase Auth's custom access token hook: GoTrue calls it as
-- supabase_auth_admin each time it issues a token (wired as
-- pg-functions://postgres/iam/custom_access_token_hook), with an event
-- {"user_id", "claims", "authentication_method"}; the result is
-- {"claims": {...}}, and a hook that raises or answers anything else fails
-- the sign-in. So it never raises: it adds claim "iam" (the user's role
-- names and active companies, at most 50: a cookie holds about 4 KB) to
-- claims it leaves otherwise as they are, and answers the claims unchanged
-- for a user iam does not know or an event it cannot read. Tokens live until
-- refresh: the claim is for the client's UI, never for enforcement, which
-- stays with iam's live checks. SECURITY DEFINER: supabase_auth_admin may
-- execute it and nothing more; no API role may.
------------------------------------------------------------------------------
CREATE FUNCTION iam.custom_access_token_hook(event jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    max_companies constant integer := 50;
    claims jsonb;
    subject uuid;
    role_names jsonb;
    company_ids jsonb;
    companies integer;
BEGIN
    claims := CASE WHEN jsonb_typeof(event) = 'object' THEN event -> 'claims' END;
    IF jsonb_typeof(claims) IS DISTINCT FROM 'object' THEN
        RETURN jsonb_build_object('claims', coalesce(claims, '{}'::jsonb));
    END IF;
    BEGIN
        subject := (event ->> 'user_id')::uuid;
    EXCEPTION WHEN invalid_text_representation THEN
        RETURN jsonb_build_object('claims', claims);
    END;
    IF subject IS NULL OR NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = subject) THEN
        RETURN jsonb_build_object('claims', claims);
    END IF;
    SELECT coalesce(jsonb_agg(r.name ORDER BY r.name), '[]') INTO role_names
    FROM iam.user_roles AS ur JOIN iam.roles AS r ON r.id = ur.role_id
    WHERE ur.user_id = subject;
    SELECT coalesce(jsonb_agg(m.company_id ORDER BY m.company_id) FILTER (WHERE m.n <= max_companies), '[]'),
           count(*)
    INTO company_ids, companies
    FROM (SELECT cu.company_id, row_number() OVER (ORDER BY cu.company_id) AS n
          FROM iam.company_users AS cu JOIN iam.companies AS c ON c.id = cu.company_id
          WHERE cu.user_id = subject AND cu.is_active_in_company
            AND c.current_iam_status = 'active' AND NOT c.is_deleted) AS m;
    RETURN jsonb_build_object('claims', claims || jsonb_build_object('iam', jsonb_build_object(
        'roles', role_names, 'company_ids', company_ids,
        'company_ids_truncated', companies > max_companies)));
EXCEPTION WHEN OTHERS THEN
    -- Whatever else went wrong, the sign-in goes through without the claim.
    RETURN jsonb_build_object('claims', claims);
END
$$;
COMMENT ON FUNCTION iam.custom_access_token_hook(jsonb) IS
    'Supabase Auth custom access token hook: adds claim iam {roles, company_ids (at most 50), company_ids_truncated} for the UI; never raises; executable by supabase_auth_admin only';
REVOKE EXECUTE ON FUNCTION iam.custom_access_token_hook(jsonb) FROM PUBLIC;

------------------------------------------------------------------------------
-- Usage: credits spent by the requests a key makes, and a rate limit on
-- them (C++: src/pg/credits.cpp, rate_limits.cpp). iam.authenticate_request
-- charges each request one credit and one slot of the rate limit;
-- consume_api_key charges a call any cost. Only the service role, a
-- platform_admin or the operator give a key credits or a limit; its owner
-- may only lower them (src/pg/write_rules.cpp).
------------------------------------------------------------------------------
CREATE FUNCTION iam.consume_api_key(api_key text, cost integer DEFAULT 1) RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'iam_consume_api_key';
COMMENT ON FUNCTION iam.consume_api_key(text, integer) IS
    'Verifies the key, counts the call against its rate limit and spends cost credits in this transaction; returns the credits left (NULL: unlimited). 28000 for a bad key, 53400 over the limit or without enough credits';

CREATE FUNCTION iam.api_key_credits_remaining() RETURNS integer
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_api_key_credits_remaining';
COMMENT ON FUNCTION iam.api_key_credits_remaining() IS
    'The credits the request''s API key has left after iam.authenticate_request charged it; NULL without a key or for unlimited';

CREATE FUNCTION iam.set_api_key_credits(key_id uuid, remaining integer, refill_amount integer DEFAULT NULL,
                                        refill_interval interval DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    ELSIF remaining < 0 THEN
        RAISE EXCEPTION 'remaining must not be negative' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'NULL gives the key unlimited use.';
    ELSIF (refill_amount IS NULL) <> (refill_interval IS NULL) THEN
        RAISE EXCEPTION 'a refill needs both refill_amount and refill_interval'
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF refill_amount IS NOT NULL AND (remaining IS NULL OR refill_amount <= 0 OR refill_interval <= interval '0') THEN
        RAISE EXCEPTION 'a refill is a positive amount every positive interval, of a key with credits'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example iam.set_api_key_credits(key_id, 1000, 1000, ''1 month'').';
    END IF;
    UPDATE iam.api_keys AS k
    SET remaining = set_api_key_credits.remaining, refill_amount = set_api_key_credits.refill_amount,
        refill_interval = set_api_key_credits.refill_interval, refilled_at = now()
    WHERE k.id = set_api_key_credits.key_id;
    IF NOT FOUND THEN
        PERFORM iam.raise_not_found('no API key with this id that you may change');
    END IF;
END
$$;
COMMENT ON FUNCTION iam.set_api_key_credits(uuid, integer, integer, interval) IS
    'Sets the credits a key has left (NULL: unlimited) and its refill, counted from now; raising them is for the service role, a platform_admin or the operator';

CREATE FUNCTION iam.set_api_key_rate_limit(key_id uuid, requests integer, per interval DEFAULT '1 minute')
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    ELSIF requests <= 0 OR (requests IS NOT NULL AND (per IS NULL OR per < interval '1 second'
                                                      OR per > interval '1 day')) THEN
        RAISE EXCEPTION 'a rate limit is a positive number of requests per 1 second to 1 day'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'NULL requests removes the limit.';
    END IF;
    UPDATE iam.api_keys AS k
    SET rate_limit = requests, rate_limit_window = CASE WHEN requests IS NULL THEN NULL ELSE per END
    WHERE k.id = set_api_key_rate_limit.key_id;
    IF NOT FOUND THEN
        PERFORM iam.raise_not_found('no API key with this id that you may change');
    END IF;
END
$$;
COMMENT ON FUNCTION iam.set_api_key_rate_limit(uuid, integer, interval) IS
    'Limits the requests a key makes per window (1 second to 1 day; NULL requests: no limit); needs iam_ext in shared_preload_libraries; for the service role, a platform_admin or the operator';

------------------------------------------------------------------------------
-- A leaked key's kill switch: whoever holds a key may revoke it, anon
-- included (a secret scanner, a finder). It runs as the extension's owner:
-- the reporter may see no key. The answer is the same for every key of the
-- format, live or not, so it tells nothing verify_api_key would not.
------------------------------------------------------------------------------
CREATE FUNCTION iam.report_leaked_api_key(api_key text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    leaked uuid;
BEGIN
    IF api_key IS NULL OR length(api_key) <> 51 OR api_key !~ '^iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$' THEN
        RAISE EXCEPTION 'this is not an iam_ext API key'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An iam_ext API key matches iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}.';
    END IF;
    SELECT v.key_id INTO leaked FROM iam.verify_api_key(api_key) AS v;
    UPDATE iam.api_keys AS k SET is_active = false WHERE k.id = leaked AND k.is_active;
    RETURN true;
END
$$;
COMMENT ON FUNCTION iam.report_leaked_api_key(text) IS
    'Revokes the key it is given at once, for anyone who holds it (anon included); audited with the reporter''s role; true for every key of the format, live or not';

------------------------------------------------------------------------------
-- The owner's view of their keys' life cycle, under RLS: the active keys the
-- caller may see that expire soon, and those nobody has used for a while.
------------------------------------------------------------------------------
CREATE FUNCTION iam.expiring_api_keys(within interval DEFAULT '30 days')
    RETURNS TABLE (id uuid, name varchar, key_prefix varchar, user_id uuid, company_id uuid,
                   expires_at timestamptz, last_used_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT k.id, k.name, k.key_prefix, k.user_id, k.company_id, k.expires_at, k.last_used_at
    FROM iam.api_keys AS k
    WHERE k.is_active AND k.expires_at > now() AND k.expires_at - now() <= within
    ORDER BY k.expires_at, k.id
$$;
COMMENT ON FUNCTION iam.expiring_api_keys(interval) IS
    'The active keys the caller may see (RLS) that expire within the interval (default 30 days), soonest first';

CREATE FUNCTION iam.unused_api_keys(for_at_least interval DEFAULT '90 days')
    RETURNS TABLE (id uuid, name varchar, key_prefix varchar, user_id uuid, company_id uuid,
                   created_at timestamptz, last_used_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT k.id, k.name, k.key_prefix, k.user_id, k.company_id, k.created_at, k.last_used_at
    FROM iam.api_keys AS k
    WHERE k.is_active AND now() - coalesce(k.last_used_at, k.created_at) >= for_at_least
    ORDER BY coalesce(k.last_used_at, k.created_at), k.id
$$;
COMMENT ON FUNCTION iam.unused_api_keys(interval) IS
    'The active keys the caller may see (RLS) unused for at least the interval (default 90 days; never used counts from creation), longest unused first';

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
COMMENT ON FUNCTION iam.is_company_admin(uuid, uuid) IS
    'Whether the user is a member of the company (see is_company_member) whose role_in_company is admin';
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles, company_users, roles, api_keys and company_invitations: writes iam.audit_log as the table''s owner';
CREATE OR REPLACE FUNCTION iam.require_company_administrator(company_id uuid, action text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF company_id IS NULL THEN
        RAISE EXCEPTION 'the company_id to % must not be NULL', left(action, 64)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin') OR iam.is_company_admin(company_id)) THEN
        RAISE EXCEPTION 'permission denied to % company %', left(action, 64), company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the company''s admins (role_in_company admin), platform_admin and the service role may.';
    END IF;
    IF NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = company_id AND NOT c.is_deleted) THEN
        PERFORM iam.raise_not_found(format('company %s does not exist', company_id));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION iam.add_company_member(company_id uuid, user_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    -- A company's admins invite (iam.invite_to_company): adding someone
    -- without their consent is provisioning, for the platform.
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to add members to company %', company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Invite them: iam.invite_to_company(company_id, email => ...). Only platform_admin and the service role add members directly.';
    END IF;
    PERFORM iam.require_company_administrator(company_id, 'manage the members of');
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'iam.add_company_member(): user_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The caller may not see the user (RLS); the foreign key does.
    INSERT INTO iam.company_users AS cu (user_id, company_id)
    VALUES (add_company_member.user_id, add_company_member.company_id)
    ON CONFLICT ON CONSTRAINT company_users_pkey
        DO UPDATE SET is_active_in_company = true WHERE NOT cu.is_active_in_company;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
EXCEPTION WHEN foreign_key_violation THEN
    PERFORM iam.raise_not_found(format('user %s does not exist', user_id));
END
$$;
COMMENT ON FUNCTION iam.add_company_member(uuid, uuid) IS
    'Provisioning: adds the user to the company, or reactivates a removed member; platform_admin and the service role only (42501); true if something changed';

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
CREATE TRIGGER company_invitations_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_invitations
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();

-- Inviting and revoking run as the caller, through the policies of
-- iam.company_invitations; accepting runs as the extension's owner, since
-- the invitee may neither read the invitation nor insert a membership.
CREATE FUNCTION iam.invite_to_company(company_id uuid, email text DEFAULT NULL, user_id uuid DEFAULT NULL,
                                      role_in_company text DEFAULT 'member', valid_for interval DEFAULT NULL)
    RETURNS TABLE (invitation_id uuid, token text, expires_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    lifetime interval := coalesce(valid_for,
                                  nullif(current_setting('iam.invitation_valid_for', true), '')::interval,
                                  interval '7 days');
    new_token text := 'inv_' || iam.generate_referral_code(32);
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'invite people to');
    IF (email IS NULL) = (user_id IS NULL) THEN
        RAISE EXCEPTION 'iam.invite_to_company(): give the invitee''s email or user_id, one of them'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF email IS NOT NULL AND (length(email) > 320 OR btrim(email) !~ '^[^@\s]+@[^@\s]+$') THEN
        RAISE EXCEPTION 'iam.invite_to_company(): % is not an email address', quote_literal(left(email, 64))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF role_in_company IS NULL OR role_in_company NOT IN ('member', 'admin') THEN
        RAISE EXCEPTION 'invalid role in a company: %', coalesce(quote_literal(left(role_in_company, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A role in a company is member or admin.';
    END IF;
    IF lifetime <= interval '0' OR lifetime > interval '90 days' THEN
        RAISE EXCEPTION 'an invitation is valid for more than 0 and at most 90 days, not %', lifetime
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO iam.company_invitations AS i
        (company_id, invited_email, invited_user_id, role_in_company, token_hash, invited_by, expires_at)
    VALUES (invite_to_company.company_id, lower(btrim(email)), user_id, invite_to_company.role_in_company,
            encode(sha256(convert_to(new_token, 'UTF8')), 'hex'), iam.current_user_id(), now() + lifetime)
    RETURNING i.id, i.expires_at INTO invitation_id, invite_to_company.expires_at;
    token := new_token;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION iam.invite_to_company(uuid, text, uuid, text, interval) IS
    'Invites a person (by email or user id) into the company as member or admin; returns the single-use token, shown once. The company''s admins, platform_admin and the service role (42501)';

CREATE FUNCTION iam.revoke_company_invitation(invitation_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    IF invitation_id IS NULL THEN
        RAISE EXCEPTION 'iam.revoke_company_invitation(): invitation_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iam.company_invitations AS i SET revoked_at = now()
    WHERE i.id = revoke_company_invitation.invitation_id AND i.accepted_at IS NULL AND i.revoked_at IS NULL;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.revoke_company_invitation(uuid) IS
    'Revokes a pending invitation the caller administers; true if it was pending';

CREATE FUNCTION iam.accept_company_invitation(token text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    caller uuid := iam.current_user_id();
    invitation iam.company_invitations;
BEGIN
    IF caller IS NULL THEN
        RAISE EXCEPTION 'accepting an invitation needs a signed-in user'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Sign in as the invitee and accept it again.';
    END IF;
    IF token IS NOT NULL AND length(token) <= 64 THEN
        SELECT * INTO invitation FROM iam.company_invitations AS i
        WHERE i.token_hash = encode(sha256(convert_to(token, 'UTF8')), 'hex')
        FOR UPDATE;
    END IF;
    -- One answer for every token that does not admit this caller, so that a
    -- guesser learns nothing from it.
    IF invitation.id IS NULL OR invitation.accepted_at IS NOT NULL OR invitation.revoked_at IS NOT NULL
       OR invitation.expires_at <= now()
       OR NOT (coalesce(invitation.invited_user_id = caller, false)
               OR coalesce(invitation.invited_email = (SELECT lower(u.email) FROM iam.users AS u WHERE u.id = caller),
                           false))
       OR NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = invitation.company_id AND NOT c.is_deleted) THEN
        PERFORM iam.raise_not_found('no such invitation for you: it is unknown, expired, revoked, used, or someone else''s',
                                    'Ask the company''s admin for a new invitation.');
    END IF;
    INSERT INTO iam.company_users AS cu (user_id, company_id, role_in_company)
    VALUES (caller, invitation.company_id, invitation.role_in_company)
    ON CONFLICT ON CONSTRAINT company_users_pkey DO UPDATE
        SET is_active_in_company = true,
            role_in_company = CASE WHEN cu.is_active_in_company AND cu.role_in_company = 'admin' THEN 'admin'
                                   ELSE excluded.role_in_company END;
    UPDATE iam.company_invitations AS i SET accepted_at = now(), accepted_by = caller WHERE i.id = invitation.id;
    RETURN invitation.company_id;
END
$$;
COMMENT ON FUNCTION iam.accept_company_invitation(text) IS
    'The invitee (by user id, or by the email of their iam.users row) joins the company with the token; returns the company id. Any other token: P0002';
-- For authenticated and service_role (apply_grants): anon has no user.
REVOKE EXECUTE ON FUNCTION iam.accept_company_invitation(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- Roles in a company, and the rule that a company keeps an admin
------------------------------------------------------------------------------
CREATE FUNCTION iam.set_company_role(company_id uuid, user_id uuid, role_in_company text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'change roles in');
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'iam.set_company_role(): user_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF role_in_company IS NULL OR role_in_company NOT IN ('member', 'admin') THEN
        RAISE EXCEPTION 'invalid role in a company: %', coalesce(quote_literal(left(role_in_company, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A role in a company is member or admin.';
    END IF;
    UPDATE iam.company_users AS cu SET role_in_company = set_company_role.role_in_company
    WHERE cu.company_id = set_company_role.company_id AND cu.user_id = set_company_role.user_id
      AND cu.is_active_in_company;
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed = 0 THEN
        PERFORM iam.raise_not_found(format('user %s is not an active member of company %s', user_id, company_id));
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION iam.set_company_role(uuid, uuid, text) IS
    'Makes an active member of the company its admin or a plain member; the company''s admins, platform_admin and the service role (42501)';

-- Runs as the caller: a company admin sees the memberships of the company,
-- and may lock its row (its UPDATE policy), which makes two admins removing
-- each other wait for one another.
CREATE FUNCTION iam.keep_a_company_admin() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF OLD.is_active_in_company AND OLD.role_in_company = 'admin'
       AND (TG_OP = 'DELETE' OR NOT NEW.is_active_in_company OR NEW.role_in_company <> 'admin')
       AND NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        PERFORM FROM iam.companies AS c WHERE c.id = OLD.company_id FOR UPDATE;
        IF NOT EXISTS (SELECT FROM iam.company_users AS cu
                       WHERE cu.company_id = OLD.company_id AND cu.user_id <> OLD.user_id
                         AND cu.is_active_in_company AND cu.role_in_company = 'admin') THEN
            RAISE EXCEPTION 'company % would be left without an admin', OLD.company_id
                USING ERRCODE = 'check_violation',
                      HINT = 'Make another member its admin first (iam.set_company_role), or ask a platform admin.';
        END IF;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION iam.keep_a_company_admin() IS
    'BEFORE UPDATE OR DELETE trigger of company_users: a company keeps an active admin, unless platform_admin or the service role removes the last (23514)';
REVOKE EXECUTE ON FUNCTION iam.keep_a_company_admin() FROM PUBLIC;
CREATE TRIGGER company_users_keep_an_admin BEFORE UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.keep_a_company_admin();

------------------------------------------------------------------------------
-- What a company's admins read of their members: these fields, of active
-- members only (iam.users itself shows them nobody else's row).
------------------------------------------------------------------------------
CREATE VIEW iam.company_members WITH (security_barrier) AS
SELECT cu.company_id, cu.user_id, u.email, u.full_name, cu.role_in_company, cu.joined_at
FROM iam.company_users AS cu
JOIN iam.users AS u ON u.id = cu.user_id
WHERE cu.is_active_in_company
  AND (iam.is_company_admin(cu.company_id)
       OR (SELECT iam.is_service_caller() OR iam.has_any_role('{platform_admin,support_agent}')));
COMMENT ON VIEW iam.company_members IS
    'The active members of the companies the caller administers (every company for platform_admin and support_agent): email, name, role in the company';

DROP POLICY users_select ON iam.users;
CREATE POLICY users_select ON iam.users FOR SELECT USING (
    id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
DROP POLICY companies_update ON iam.companies;
CREATE POLICY companies_update ON iam.companies FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(id));
DROP POLICY company_users_select ON iam.company_users;
CREATE POLICY company_users_select ON iam.company_users FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR iam.is_company_admin(company_id));
DROP POLICY company_users_insert ON iam.company_users;
CREATE POLICY company_users_insert ON iam.company_users FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
DROP POLICY company_users_update ON iam.company_users;
CREATE POLICY company_users_update ON iam.company_users FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(company_id));
DROP POLICY api_keys_select ON iam.api_keys;
CREATE POLICY api_keys_select ON iam.api_keys FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR iam.is_company_admin(company_id));
DROP POLICY api_keys_update ON iam.api_keys;
CREATE POLICY api_keys_update ON iam.api_keys FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(company_id));
ALTER TABLE iam.company_invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_invitations_select ON iam.company_invitations FOR SELECT USING (
    iam.is_company_admin(company_id) OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY company_invitations_insert ON iam.company_invitations FOR INSERT WITH CHECK (
    iam.is_company_admin(company_id) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY company_invitations_update ON iam.company_invitations FOR UPDATE
    USING (iam.is_company_admin(company_id) OR (SELECT iam.has_role('platform_admin')))
    WITH CHECK (revoked_at IS NOT NULL);
CREATE TRIGGER company_invitations_key_permission BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON iam.company_invitations FOR EACH STATEMENT EXECUTE FUNCTION iam.require_key_permission();

------------------------------------------------------------------------------
-- Privileges. A table-level DELETE also lets its holder LOCK the table in
-- any mode, which would stall every role check: the API roles get DELETE
-- only on user_roles, where revoking a role is a delete. Companies and
-- memberships are removed softly, keys revoked, codes deactivated; hard
-- deletes are for the service role and the operator.
------------------------------------------------------------------------------
DROP POLICY roles_delete ON iam.roles;
DROP POLICY users_delete ON iam.users;
DROP POLICY companies_delete ON iam.companies;
DROP POLICY company_users_delete ON iam.company_users;
DROP POLICY user_settings_delete ON iam.user_settings;
DROP POLICY api_keys_delete ON iam.api_keys;
DROP POLICY referral_codes_delete ON iam.referral_codes;
DROP POLICY referrals_delete ON iam.referrals;

CREATE OR REPLACE FUNCTION iam.apply_grants() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    api_key_columns text;
    invitation_columns text;
    client_tables text;
    statement text;
BEGIN
    -- Every table but the peppers.
    SELECT string_agg(format('iam.%I', c.relname), ', ' ORDER BY c.relname) INTO client_tables
    FROM pg_class AS c
    WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'r' AND c.relname <> 'api_key_peppers';

    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        GRANT USAGE ON SCHEMA iam TO anon;
        GRANT SELECT ON iam.roles TO anon;
    END IF;

    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        -- Every column of api_keys but the hash of the secret.
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO api_key_columns
        FROM pg_attribute
        WHERE attrelid = 'iam.api_keys'::regclass AND attnum > 0 AND NOT attisdropped
          AND attname <> 'hashed_key';
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO invitation_columns
        FROM pg_attribute
        WHERE attrelid = 'iam.company_invitations'::regclass AND attnum > 0 AND NOT attisdropped
          AND attname <> 'token_hash';
        FOREACH statement IN ARRAY ARRAY[
            'GRANT USAGE ON SCHEMA iam TO authenticated',
            'GRANT EXECUTE ON FUNCTION iam.accept_company_invitation(text) TO authenticated',
            'GRANT SELECT ON iam.roles, iam.users, iam.user_roles, iam.companies, iam.company_users, '
                'iam.user_settings, iam.referral_codes, iam.referrals, iam.audit_log, iam.company_members '
                'TO authenticated',
            'GRANT SELECT (' || invitation_columns || ') ON iam.company_invitations TO authenticated',
            'REVOKE DELETE ON iam.company_invitations FROM authenticated',
            'GRANT INSERT (company_id, invited_email, invited_user_id, role_in_company, token_hash, invited_by, '
                'expires_at), UPDATE (revoked_at) ON iam.company_invitations TO authenticated',
            'GRANT SELECT (' || api_key_columns || ') ON iam.api_keys TO authenticated',
            'REVOKE DELETE ON iam.roles, iam.users, iam.companies, iam.company_users, iam.user_settings, '
                'iam.api_keys, iam.referral_codes, iam.referrals FROM authenticated',
            'GRANT INSERT (name, description), UPDATE (name, description) ON iam.roles TO authenticated',
            'GRANT INSERT (id, email, full_name, raw_app_meta_data, raw_user_meta_data), '
                'UPDATE (full_name, raw_user_meta_data) ON iam.users TO authenticated',
            'GRANT INSERT (user_id, role_id), DELETE ON iam.user_roles TO authenticated',
            'GRANT INSERT (id, name, current_iam_status), '
                'UPDATE (name, current_iam_status, is_deleted, deleted_at) ON iam.companies TO authenticated',
            'GRANT INSERT (user_id, company_id, is_active_in_company, role_in_company), '
                'UPDATE (is_active_in_company, role_in_company) ON iam.company_users TO authenticated',
            'GRANT INSERT (user_id, preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app), '
                'UPDATE (preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app) '
                'ON iam.user_settings TO authenticated',
            'GRANT INSERT (user_id, company_id, name, key_prefix, hashed_key, permissions, expires_at, replaces_key_id, '
                'remaining, refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window), '
                'UPDATE (name, permissions, expires_at, is_active, key_prefix, hashed_key, remaining, refill_amount, '
                'refill_interval, refilled_at, rate_limit, rate_limit_window) ON iam.api_keys TO authenticated',
            'GRANT INSERT (user_id, code, is_active, expires_at), UPDATE (is_active, expires_at) '
                'ON iam.referral_codes TO authenticated',
            'GRANT INSERT (referrer_user_id, referred_user_id, referral_code_used_id), '
                'UPDATE (status, converted_at) ON iam.referrals TO authenticated'
        ] LOOP
            EXECUTE statement;
        END LOOP;
    END IF;

    -- The service role and, on Supabase, the operator (postgres, not a
    -- superuser there): every table but the peppers; the operator also
    -- re-applies grants and rotates the pepper.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA iam TO service_role;
        EXECUTE 'GRANT ALL ON ' || client_tables || ' TO service_role';
        GRANT SELECT ON iam.company_members TO service_role;
        GRANT EXECUTE ON FUNCTION iam.accept_company_invitation(text) TO service_role;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA iam TO service_role;
        REVOKE ALL ON iam.api_key_peppers FROM service_role;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres' AND NOT rolsuper) THEN
        GRANT USAGE ON SCHEMA iam TO postgres;
        EXECUTE 'GRANT ALL ON ' || client_tables || ' TO postgres';
        GRANT SELECT ON iam.company_members TO postgres;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA iam TO postgres;
        REVOKE ALL ON iam.api_key_peppers FROM postgres;
        GRANT EXECUTE ON FUNCTION iam.apply_grants(), iam.rotate_api_key_pepper(),
            iam.custom_access_token_hook(jsonb), iam.enable_auth_sync(), iam.disable_auth_sync()
            TO postgres;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
        -- Supabase Auth calls the access token hook, and may do nothing else.
        GRANT USAGE ON SCHEMA iam TO supabase_auth_admin;
        GRANT EXECUTE ON FUNCTION iam.custom_access_token_hook(jsonb) TO supabase_auth_admin;
    END IF;
END
$$;
SELECT iam.apply_grants();

------------------------------------------------------------------------------
-- Supabase Auth: bans and soft deletions reach the keys; an unconfirmed
-- sign-up does not take an email that someone already holds.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.sync_user_from_auth(auth_user jsonb) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    synced_id constant uuid := (auth_user ->> 'id')::uuid;
    synced_email text := nullif(auth_user ->> 'email', '');
    is_sso_user constant boolean := coalesce((auth_user ->> 'is_sso_user')::boolean, false);
    is_confirmed constant boolean := nullif(auth_user ->> 'email_confirmed_at', '') IS NOT NULL;
    auth_banned_until constant timestamptz := nullif(auth_user ->> 'banned_until', '')::timestamptz;
    auth_deleted_at constant timestamptz := nullif(auth_user ->> 'deleted_at', '')::timestamptz;
    keys_suspended_until constant timestamptz :=
        CASE WHEN auth_deleted_at IS NOT NULL THEN 'infinity' ELSE auth_banned_until END;
    -- A NULL column is a JSON null in to_jsonb(row); stored, it is NULL again.
    app_meta constant jsonb := nullif(auth_user -> 'raw_app_meta_data', 'null');
    user_meta constant jsonb := nullif(auth_user -> 'raw_user_meta_data', 'null');
    holder uuid;
    inserted boolean;
BEGIN
    IF synced_email IS NOT NULL THEN
        SELECT u.id INTO holder FROM iam.users AS u
        WHERE u.email = synced_email AND u.id <> synced_id
        FOR UPDATE;
        -- An unconfirmed sign-up does not take the email of a user who
        -- confirmed it or signs in through SSO with it.
        IF holder IS NOT NULL AND (is_sso_user OR (NOT is_confirmed AND EXISTS (
                SELECT FROM auth.users AS a
                WHERE a.id = holder AND (a.email_confirmed_at IS NOT NULL OR a.is_sso_user)))) THEN
            RAISE WARNING 'iam_ext: % user % is synced without an email: user % already has %',
                CASE WHEN is_sso_user THEN 'SSO' ELSE 'unconfirmed' END, synced_id, holder, synced_email;
            synced_email := NULL;
        ELSIF holder IS NOT NULL THEN
            RAISE WARNING 'iam_ext: user % gives up the email % to user %, who signed up with it',
                holder, synced_email, synced_id;
            UPDATE iam.users AS u SET email = NULL WHERE u.id = holder;
        END IF;
    END IF;
    INSERT INTO iam.users AS u (id, email, full_name, raw_app_meta_data, raw_user_meta_data,
                                banned_until, deleted_at)
    VALUES (synced_id, synced_email, coalesce(user_meta ->> 'full_name', user_meta ->> 'name'),
            app_meta, user_meta, auth_banned_until, auth_deleted_at)
    ON CONFLICT (id) DO UPDATE
        SET email = excluded.email, full_name = coalesce(excluded.full_name, u.full_name),
            raw_app_meta_data = excluded.raw_app_meta_data, raw_user_meta_data = excluded.raw_user_meta_data,
            banned_until = excluded.banned_until, deleted_at = excluded.deleted_at
        WHERE (u.email, u.full_name, u.raw_app_meta_data, u.raw_user_meta_data, u.banned_until, u.deleted_at)
              IS DISTINCT FROM (excluded.email, coalesce(excluded.full_name, u.full_name),
                                excluded.raw_app_meta_data, excluded.raw_user_meta_data,
                                excluded.banned_until, excluded.deleted_at)
    RETURNING xmax = 0 INTO inserted;
    INSERT INTO iam.user_settings (user_id) VALUES (synced_id) ON CONFLICT DO NOTHING;
    UPDATE iam.api_keys AS k SET suspended_until = keys_suspended_until
    WHERE k.user_id = synced_id AND k.suspended_until IS DISTINCT FROM keys_suspended_until;
    RETURN coalesce(inserted, false);
END
$$;

-- enable_auth_sync and disable_auth_sync run as the extension's owner too:
-- on Supabase the operator, postgres, is not a superuser and owns neither
-- auth.users (supabase_auth_admin does) nor the trigger function, so it could
-- neither attach iam.sync_auth_user() to the table nor drop the triggers.
-- Only the operator may execute them.
CREATE OR REPLACE FUNCTION iam.enable_auth_sync() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    auth_user jsonb;
    backfilled integer := 0;
BEGIN
    IF to_regclass('auth.users') IS NULL THEN
        RAISE NOTICE 'there is no table auth.users in this database: nothing to sync'
            USING HINT = 'enable_auth_sync() is for Supabase databases, where Supabase Auth keeps its users in auth.users.';
        RETURN 0;
    END IF;
    -- The table first, then its triggers: DROP TRIGGER and CREATE OR
    -- REPLACE TRIGGER lock the trigger before the table, so two concurrent
    -- calls could otherwise deadlock.
    LOCK TABLE auth.users IN SHARE ROW EXCLUSIVE MODE;
    CREATE OR REPLACE TRIGGER iam_sync_users_insert
        AFTER INSERT ON auth.users
        FOR EACH ROW EXECUTE FUNCTION iam.sync_auth_user();
    -- GoTrue updates auth.users at every sign-in (last_sign_in_at): only a
    -- change to what iam.users copies or the keys depend on is synced.
    CREATE OR REPLACE TRIGGER iam_sync_users_update
        AFTER UPDATE ON auth.users
        FOR EACH ROW
        WHEN (OLD.email IS DISTINCT FROM NEW.email
              OR OLD.email_confirmed_at IS DISTINCT FROM NEW.email_confirmed_at
              OR OLD.raw_app_meta_data IS DISTINCT FROM NEW.raw_app_meta_data
              OR OLD.raw_user_meta_data IS DISTINCT FROM NEW.raw_user_meta_data
              OR OLD.banned_until IS DISTINCT FROM NEW.banned_until
              OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
        EXECUTE FUNCTION iam.sync_auth_user();
    CREATE OR REPLACE TRIGGER iam_sync_users_delete
        AFTER DELETE ON auth.users
        FOR EACH ROW EXECUTE FUNCTION iam.sync_auth_user();
    -- Confirmed users who are not SSO users first: they own their email
    -- (see the rule above) whatever the order; the rest in order of signing up.
    FOR auth_user IN
        SELECT a.row FROM (SELECT to_jsonb(au) AS row FROM auth.users AS au) AS a
        ORDER BY coalesce((a.row ->> 'is_sso_user')::boolean, false),
                 nullif(a.row ->> 'email_confirmed_at', '') IS NULL, a.row ->> 'created_at', a.row ->> 'id'
    LOOP
        IF iam.sync_user_from_auth(auth_user) THEN
            backfilled := backfilled + 1;
        END IF;
    END LOOP;
    RETURN backfilled;
END
$$;

CREATE OR REPLACE FUNCTION iam.disable_auth_sync() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF to_regclass('auth.users') IS NOT NULL THEN
        -- The table before its triggers, as in enable_auth_sync.
        LOCK TABLE auth.users IN ACCESS EXCLUSIVE MODE;
        DROP TRIGGER IF EXISTS iam_sync_users_insert ON auth.users;
        DROP TRIGGER IF EXISTS iam_sync_users_update ON auth.users;
        DROP TRIGGER IF EXISTS iam_sync_users_delete ON auth.users;
    END IF;
END
$$;

-- A database that syncs already gets the new trigger condition and the
-- users' bans now.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_trigger
               WHERE tgrelid = to_regclass('auth.users') AND tgname = 'iam_sync_users_update') THEN
        PERFORM iam.enable_auth_sync();
    END IF;
END
$$;
