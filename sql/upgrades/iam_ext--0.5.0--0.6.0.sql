-- iam_ext 0.5.0 -> 0.6.0: Supabase and PostgREST. iam.users follows
-- auth.users (enable_auth_sync); a request authenticated by a company's API
-- key acts for the company; not-found errors reach PostgREST clients as 404.

\echo Use "ALTER EXTENSION iam_ext UPDATE TO '0.6.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Not found, for HTTP too. PostgREST answers 500 for P0002; inside a
-- PostgREST request this raises it in PostgREST's own format instead, so the
-- client gets 404 with "code": "P0002" (src/pg/http_errors.hpp). The
-- PL/pgSQL functions below raise their not-found errors through it.
------------------------------------------------------------------------------
CREATE FUNCTION iam.raise_not_found(message text, hint text DEFAULT NULL) RETURNS void
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_raise_not_found';
COMMENT ON FUNCTION iam.raise_not_found(text, text) IS
    'Raises P0002 with the message; inside a PostgREST request, as PostgREST''s HTTP 404';

-- The checks' action argument names what is refused in the message: it is
-- one of the callers' words, never text of unbounded length.
CREATE OR REPLACE FUNCTION iam.require_role_administrator(user_id uuid, role_name text, action text)
    RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    found_role uuid;
BEGIN
    IF action IS NULL OR action NOT IN ('grant', 'revoke') THEN
        RAISE EXCEPTION 'action must be grant or revoke' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF user_id IS NULL OR role_name IS NULL THEN
        RAISE EXCEPTION 'iam.%_role(): user_id and role_name must not be NULL', action
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to % roles', action
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only platform_admin, the service role and superusers may grant and revoke roles.';
    END IF;
    IF action = 'grant' AND user_id = iam.current_user_id() AND NOT iam.is_service_caller() THEN
        RAISE EXCEPTION 'permission denied to grant a role to yourself'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Another platform_admin or the service role must grant it.';
    END IF;
    SELECT r.id INTO found_role FROM iam.roles AS r WHERE r.name = role_name;
    IF found_role IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', left(role_name, 64)
            USING ERRCODE = 'undefined_object', DETAIL = 'iam roles are the rows of iam.roles.';
    END IF;
    RETURN found_role;
END
$$;

CREATE OR REPLACE FUNCTION iam.grant_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    granted_role uuid := iam.require_role_administrator(user_id, role_name, 'grant');
    changed bigint;
BEGIN
    -- The caller may not see the user (RLS); the foreign key does.
    INSERT INTO iam.user_roles AS ur (user_id, role_id) VALUES (grant_role.user_id, granted_role)
    ON CONFLICT ON CONSTRAINT user_roles_pkey DO NOTHING;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
EXCEPTION WHEN foreign_key_violation THEN
    PERFORM iam.raise_not_found(format('user %s does not exist', user_id));
END
$$;

CREATE OR REPLACE FUNCTION iam.require_company_administrator(company_id uuid, action text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF company_id IS NULL THEN
        RAISE EXCEPTION 'iam.%(): company_id must not be NULL', left(action, 64)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin') OR iam.is_company_admin(company_id)) THEN
        RAISE EXCEPTION 'permission denied to % company %', left(action, 64), company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the company''s admins (enterprise_admin members), platform_admin and the service role may.';
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

-- A NULL user is an invalid argument, as for add_company_member.
CREATE OR REPLACE FUNCTION iam.remove_company_member(company_id uuid, user_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'manage the members of');
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'iam.remove_company_member(): user_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iam.company_users AS cu SET is_active_in_company = false
    WHERE cu.company_id = remove_company_member.company_id AND cu.user_id = remove_company_member.user_id
      AND cu.is_active_in_company;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;

CREATE OR REPLACE FUNCTION iam.revoke_api_key(key_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iam.api_keys AS k SET is_active = false WHERE k.id = revoke_api_key.key_id AND k.is_active;
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed = 0 AND NOT EXISTS (SELECT FROM iam.api_keys AS k WHERE k.id = revoke_api_key.key_id) THEN
        PERFORM iam.raise_not_found('no API key with this id that you may revoke');
    END IF;
    RETURN changed > 0;
END
$$;

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

------------------------------------------------------------------------------
-- Supabase Auth: iam.users follows auth.users. GoTrue writes auth.users as
-- supabase_auth_admin with search_path = auth, and a failing trigger fails
-- the signup, email change or deletion: the trigger runs as the extension's
-- owner with its own search_path and never raises (a sync it cannot apply is
-- a WARNING, healed by the next enable_auth_sync()).
------------------------------------------------------------------------------

-- One auth.users row (as jsonb, so that columns GoTrue adds or drops do not
-- matter) into iam.users and user_settings; true if the user was new.
--
-- The email rule. iam.users.email is unique, auth.users.email only among
-- users who are not SSO users. A user who is not an SSO user always gets
-- their email: Supabase Auth guarantees no other such user has it, so
-- whoever holds it in iam.users (an SSO user, or a row not from auth) gives
-- it up. An SSO user whose email another user holds is synced without one.
CREATE FUNCTION iam.sync_user_from_auth(auth_user jsonb) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    synced_id constant uuid := (auth_user ->> 'id')::uuid;
    synced_email text := nullif(auth_user ->> 'email', '');
    is_sso_user constant boolean := coalesce((auth_user ->> 'is_sso_user')::boolean, false);
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
        IF holder IS NOT NULL AND is_sso_user THEN
            RAISE WARNING 'iam_ext: SSO user % is synced without an email: user % already has %',
                synced_id, holder, synced_email;
            synced_email := NULL;
        ELSIF holder IS NOT NULL THEN
            RAISE WARNING 'iam_ext: user % gives up the email % to user %, who signed up with it',
                holder, synced_email, synced_id;
            UPDATE iam.users AS u SET email = NULL WHERE u.id = holder;
        END IF;
    END IF;
    INSERT INTO iam.users AS u (id, email, full_name, raw_app_meta_data, raw_user_meta_data)
    VALUES (synced_id, synced_email, coalesce(user_meta ->> 'full_name', user_meta ->> 'name'),
            app_meta, user_meta)
    ON CONFLICT (id) DO UPDATE
        SET email = excluded.email, full_name = coalesce(excluded.full_name, u.full_name),
            raw_app_meta_data = excluded.raw_app_meta_data, raw_user_meta_data = excluded.raw_user_meta_data
        WHERE (u.email, u.full_name, u.raw_app_meta_data, u.raw_user_meta_data)
              IS DISTINCT FROM (excluded.email, coalesce(excluded.full_name, u.full_name),
                                excluded.raw_app_meta_data, excluded.raw_user_meta_data)
    RETURNING xmax = 0 INTO inserted;
    INSERT INTO iam.user_settings (user_id) VALUES (synced_id) ON CONFLICT DO NOTHING;
    RETURN coalesce(inserted, false);
END
$$;
COMMENT ON FUNCTION iam.sync_user_from_auth(jsonb) IS
    'Copies one auth.users row (as jsonb) into iam.users and user_settings; true if the user was new. Used by the auth.users triggers and enable_auth_sync';

CREATE FUNCTION iam.sync_auth_user() RETURNS trigger
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- Every table's rows of the user go with it (ON DELETE CASCADE).
        DELETE FROM iam.users AS u WHERE u.id = OLD.id;
    ELSE
        PERFORM iam.sync_user_from_auth(to_jsonb(NEW));
    END IF;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'iam_ext: could not sync auth user % (%): %', (CASE TG_OP WHEN 'DELETE' THEN OLD.id ELSE NEW.id END),
        lower(TG_OP), SQLERRM
        USING HINT = 'The auth write went through; SELECT iam.enable_auth_sync() syncs the users again.';
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION iam.sync_auth_user() IS
    'Trigger on auth.users (see enable_auth_sync): keeps iam.users in step; never fails the auth write';

CREATE FUNCTION iam.enable_auth_sync() RETURNS integer
    LANGUAGE plpgsql VOLATILE
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
    CREATE OR REPLACE TRIGGER iam_sync_users_insert
        AFTER INSERT ON auth.users
        FOR EACH ROW EXECUTE FUNCTION iam.sync_auth_user();
    -- GoTrue updates auth.users at every sign-in (last_sign_in_at): only a
    -- change to what iam.users copies is synced.
    CREATE OR REPLACE TRIGGER iam_sync_users_update
        AFTER UPDATE ON auth.users
        FOR EACH ROW
        WHEN (OLD.email IS DISTINCT FROM NEW.email
              OR OLD.raw_app_meta_data IS DISTINCT FROM NEW.raw_app_meta_data
              OR OLD.raw_user_meta_data IS DISTINCT FROM NEW.raw_user_meta_data)
        EXECUTE FUNCTION iam.sync_auth_user();
    CREATE OR REPLACE TRIGGER iam_sync_users_delete
        AFTER DELETE ON auth.users
        FOR EACH ROW EXECUTE FUNCTION iam.sync_auth_user();
    -- Users who are not SSO users first: they own their email (see the rule
    -- above) whatever the order, and the rest is in order of signing up.
    FOR auth_user IN
        SELECT a.row FROM (SELECT to_jsonb(au) AS row FROM auth.users AS au) AS a
        ORDER BY coalesce((a.row ->> 'is_sso_user')::boolean, false), a.row ->> 'created_at', a.row ->> 'id'
    LOOP
        IF iam.sync_user_from_auth(auth_user) THEN
            backfilled := backfilled + 1;
        END IF;
    END LOOP;
    RETURN backfilled;
END
$$;
COMMENT ON FUNCTION iam.enable_auth_sync() IS
    'Keeps iam.users in step with Supabase''s auth.users (triggers on insert, update of email or metadata, delete) and syncs every existing user; returns how many users were new. Idempotent';

CREATE FUNCTION iam.disable_auth_sync() RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF to_regclass('auth.users') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS iam_sync_users_insert ON auth.users;
        DROP TRIGGER IF EXISTS iam_sync_users_update ON auth.users;
        DROP TRIGGER IF EXISTS iam_sync_users_delete ON auth.users;
    END IF;
END
$$;
COMMENT ON FUNCTION iam.disable_auth_sync() IS
    'Removes the auth.users triggers of enable_auth_sync (needed before DROP EXTENSION); iam.users stays as it is';

-- Operator functions: no API role may run them. On Supabase the operator is
-- postgres, not a superuser there.
REVOKE EXECUTE ON FUNCTION iam.sync_user_from_auth(jsonb), iam.sync_auth_user(), iam.enable_auth_sync(),
    iam.disable_auth_sync() FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres' AND NOT rolsuper) THEN
        GRANT EXECUTE ON FUNCTION iam.enable_auth_sync(), iam.disable_auth_sync() TO postgres;
    END IF;
END
$$;
