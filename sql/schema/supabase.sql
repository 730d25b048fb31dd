-- Supabase Auth: iam.users follows auth.users. GoTrue writes auth.users as
-- supabase_auth_admin with search_path = auth, and a failing trigger fails
-- the signup, email change or deletion: the trigger runs as the extension's
-- owner with its own search_path and never raises (a sync it cannot apply is
-- a WARNING, healed by the next enable_auth_sync()).

-- One auth.users row (as jsonb, so that columns GoTrue adds or drops do not
-- matter) into iam.users and user_settings; true if the user was new.
--
-- The email rule. iam.users.email is unique, auth.users.email only among
-- users who are not SSO users. A user who is not an SSO user always gets
-- their email: Supabase Auth guarantees no other such user has it, so
-- whoever holds it in iam.users (an SSO user, or a row not from auth) gives
-- it up. An SSO user whose email another user holds is synced without one.
CREATE OR REPLACE FUNCTION iam.sync_user_from_auth(auth_user jsonb) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
    AS $$
DECLARE
    synced_id constant uuid := (auth_user ->> 'id')::uuid;
    synced_email text := nullif(auth_user ->> 'email', '');
    is_sso_user constant boolean := coalesce((auth_user ->> 'is_sso_user')::boolean, false);
    auth_confirmed_at constant timestamptz := nullif(auth_user ->> 'email_confirmed_at', '')::timestamptz;
    is_confirmed constant boolean := auth_confirmed_at IS NOT NULL;
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
    -- The email's confirmation goes with it: NULL for an unconfirmed
    -- address, or one synced without an email; an address that changed and
    -- is confirmed (GoTrue confirms a change before it writes the new
    -- address, and keeps the first confirmation's time) counts as confirmed
    -- from this sync on, so that iam.users_email_confirmation sees it given
    -- anew.
    INSERT INTO iam.users AS u (id, email, full_name, raw_app_meta_data, raw_user_meta_data,
                                banned_until, deleted_at, email_confirmed_at)
    VALUES (synced_id, synced_email, coalesce(user_meta ->> 'full_name', user_meta ->> 'name'),
            app_meta, user_meta, auth_banned_until, auth_deleted_at,
            CASE WHEN synced_email IS NOT NULL AND is_confirmed THEN auth_confirmed_at END)
    ON CONFLICT (id) DO UPDATE
        SET email = excluded.email, full_name = coalesce(excluded.full_name, u.full_name),
            raw_app_meta_data = excluded.raw_app_meta_data, raw_user_meta_data = excluded.raw_user_meta_data,
            banned_until = excluded.banned_until, deleted_at = excluded.deleted_at,
            email_confirmed_at = CASE WHEN excluded.email_confirmed_at IS NULL THEN NULL
                                      WHEN u.email IS DISTINCT FROM excluded.email
                                      THEN greatest(excluded.email_confirmed_at, clock_timestamp())
                                      ELSE excluded.email_confirmed_at END
        WHERE (u.email, u.full_name, u.raw_app_meta_data, u.raw_user_meta_data, u.banned_until, u.deleted_at,
               u.email_confirmed_at)
              IS DISTINCT FROM (excluded.email, coalesce(excluded.full_name, u.full_name),
                                excluded.raw_app_meta_data, excluded.raw_user_meta_data,
                                excluded.banned_until, excluded.deleted_at, excluded.email_confirmed_at)
    RETURNING xmax = 0 INTO inserted;
    INSERT INTO iam.user_settings (user_id) VALUES (synced_id) ON CONFLICT DO NOTHING;
    UPDATE iam.api_keys AS k SET suspended_until = keys_suspended_until
    WHERE k.user_id = synced_id AND k.suspended_until IS DISTINCT FROM keys_suspended_until;
    RETURN coalesce(inserted, false);
END
$$;
COMMENT ON FUNCTION iam.sync_user_from_auth(jsonb) IS
    'Copies one auth.users row (as jsonb) into iam.users and user_settings; true if the user was new. Used by the auth.users triggers and enable_auth_sync';

CREATE OR REPLACE FUNCTION iam.sync_auth_user() RETURNS trigger
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
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

-- enable_auth_sync and disable_auth_sync run as the owner of the extension's
-- objects too: an operator who is no superuser (postgres on Supabase, or
-- whoever installed the trusted extension) owns neither auth.users
-- (supabase_auth_admin does) nor the trigger function, so it could neither
-- attach iam.sync_auth_user() to the table nor drop the triggers.
-- Only the operator may execute them.
CREATE OR REPLACE FUNCTION iam.enable_auth_sync() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
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
COMMENT ON FUNCTION iam.enable_auth_sync() IS
    'Keeps iam.users in step with Supabase''s auth.users (triggers on insert, on update of email, email_confirmed_at, the metadata, banned_until or deleted_at, and on delete) and syncs every existing user; returns how many users were new. Idempotent';

CREATE OR REPLACE FUNCTION iam.disable_auth_sync() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
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
COMMENT ON FUNCTION iam.disable_auth_sync() IS
    'Removes the auth.users triggers of enable_auth_sync (needed before DROP EXTENSION); iam.users stays as it is';

-- Operator functions: no API role may run them. iam.apply_grants() grants
-- them to the operator when it is no superuser: the extension's owner and,
-- on Supabase, postgres.
REVOKE EXECUTE ON FUNCTION iam.sync_user_from_auth(jsonb), iam.sync_auth_user(), iam.enable_auth_sync(),
    iam.disable_auth_sync() FROM PUBLIC;

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
CREATE OR REPLACE FUNCTION iam.custom_access_token_hook(event jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
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

-- The grants of the roles that exist now (iam.apply_grants(), policies.sql).
SELECT iam.apply_grants();

-- A database that syncs gets the sync's triggers as defined above, also on an
-- upgrade (a fresh install has none yet).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_trigger
               WHERE tgrelid = to_regclass('auth.users') AND tgname = 'iam_sync_users_update') THEN
        PERFORM iam.enable_auth_sync();
    END IF;
END
$$;
