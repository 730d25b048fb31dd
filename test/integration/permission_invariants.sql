-- The permission invariant suite's bookkeeping and reference
-- (test/integration/permission_invariants.sh), made by the superuser in
-- schema pinv, which the API roles may only append to: which operation ran
-- (ops), how it ended (done: committed, refused: its write was rolled back
-- to a savepoint and only the bookkeeping committed), what the actor held
-- just before it (held, held_key), a shadow log of every row change of the
-- permission model's tables with what each change gave, the audit rows, and
-- iam.can()'s answers of each identity. The invariants
-- (permission_invariants_checks.sql) are plain SQL over these and iam's
-- tables.
SET client_min_messages = warning;
CREATE SCHEMA pinv;
GRANT USAGE ON SCHEMA pinv TO PUBLIC;

CREATE TABLE pinv.ops (
    id         integer PRIMARY KEY,
    batch      integer NOT NULL,
    session    integer NOT NULL,
    actor      text NOT NULL,     -- Alice, key:<name>, anon, service, operator
    actor_id   uuid,              -- the user the operation acts as, if any
    key_id     uuid,              -- the API key presented in request.headers, if any
    db_role    text NOT NULL,     -- anon, authenticated, service_role, operator
    privileged boolean NOT NULL,  -- the service role or the operator with nobody named: above the holding rules
    path       text NOT NULL,     -- rest, sql, sql+row_security=off, definer
    isolation  text NOT NULL,
    kind       text NOT NULL,
    body       text NOT NULL
);
CREATE TABLE pinv.done (op integer PRIMARY KEY);
CREATE TABLE pinv.refused (op integer PRIMARY KEY, before_fp text, after_fp text);
GRANT SELECT, INSERT ON pinv.done, pinv.refused TO PUBLIC;

-- The permission model's content, as one value: a refused write leaves it
-- as it was.
CREATE FUNCTION pinv.fingerprint() RETURNS text LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(name || ':' || coalesce(description, ''), ',' ORDER BY name) FROM iam.permissions),
        (SELECT string_agg(role_id || ':' || permission, ',' ORDER BY role_id, permission) FROM iam.role_permissions),
        (SELECT string_agg(id || ':' || coalesce(company_id::text, '') || ':' || name || ':' || coalesce(description, ''),
                           ',' ORDER BY id) FROM iam.company_roles),
        (SELECT string_agg(company_role_id || ':' || permission, ',' ORDER BY company_role_id, permission)
         FROM iam.company_role_permissions),
        (SELECT string_agg(user_id || ':' || company_id || ':' || company_role_id, ',' ORDER BY 1)
         FROM iam.company_member_roles),
        (SELECT string_agg(user_id || ':' || role_id, ',' ORDER BY 1) FROM iam.user_roles),
        (SELECT string_agg(user_id || ':' || company_id || ':' || role_in_company || ':' || is_active_in_company, ','
                           ORDER BY 1) FROM iam.company_users),
        (SELECT string_agg(id || ':' || current_iam_status, ',' ORDER BY 1) FROM iam.companies),
        (SELECT string_agg(id || ':' || permissions::text || ':' || is_active, ',' ORDER BY 1) FROM iam.api_keys),
        (SELECT count(*) FROM iam.audit_log)))
$$;
GRANT EXECUTE ON FUNCTION pinv.fingerprint() TO PUBLIC;

------------------------------------------------------------------------------
-- The reference: what holding means, in plain SQL over the tables.
------------------------------------------------------------------------------
-- Whether grant g covers w (a permission, or a wildcard grant being given).
CREATE FUNCTION pinv.covers(g text, w text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT g = '*' OR g = w
        OR (right(g, 2) = ':*' AND length(w) > length(g) - 1 AND left(w, length(g) - 1) = left(g, length(g) - 1))
$$;

CREATE FUNCTION pinv.company_active(c uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT FROM iam.companies WHERE id = c AND current_iam_status = 'active' AND NOT is_deleted)
$$;

-- The grants a user holds: (NULL, g) through a platform role, everywhere;
-- (c, g) through their roles in active company c where they are an active
-- member: the member template, the admin template if admin, and the company
-- roles assigned to them that are a template or c's own.
CREATE FUNCTION pinv.user_grants(u uuid) RETURNS TABLE (company_id uuid, grant_ text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT NULL::uuid, rp.permission
    FROM iam.user_roles AS ur JOIN iam.role_permissions AS rp ON rp.role_id = ur.role_id
    WHERE ur.user_id = u
    UNION
    SELECT cu.company_id, crp.permission
    FROM iam.company_users AS cu
    JOIN iam.company_role_permissions AS crp
      ON crp.company_role_id = '00000000-0000-4000-8000-000000000101'
      OR (cu.role_in_company = 'admin' AND crp.company_role_id = '00000000-0000-4000-8000-000000000102')
    WHERE cu.user_id = u AND cu.is_active_in_company AND pinv.company_active(cu.company_id)
    UNION
    SELECT cu.company_id, crp.permission
    FROM iam.company_users AS cu
    JOIN iam.company_member_roles AS m ON m.user_id = cu.user_id AND m.company_id = cu.company_id
    JOIN iam.company_roles AS r ON r.id = m.company_role_id
         AND (r.company_id IS NULL OR r.company_id = cu.company_id)
         AND r.id NOT IN ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000102')
    JOIN iam.company_role_permissions AS crp ON crp.company_role_id = r.id
    WHERE cu.user_id = u AND cu.is_active_in_company AND pinv.company_active(cu.company_id)
$$;

-- Whether a user holds w in company c (NULL: through a platform role only).
CREATE FUNCTION pinv.user_holds(u uuid, w text, c uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pinv.user_grants(u) AS h
                   WHERE (h.company_id IS NULL OR h.company_id = c) AND pinv.covers(h.grant_, w))
$$;

-- The company a key is bound to, as docs/api_keys.md has it since 0.7.0: a
-- user's key that names a company its owner is no longer an active member
-- of is bound to none.
CREATE FUNCTION pinv.key_company(k uuid) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.company_id FROM iam.api_keys AS a
    WHERE a.id = k AND (a.user_id IS NULL OR EXISTS (
        SELECT FROM iam.company_users AS cu
        WHERE cu.user_id = a.user_id AND cu.company_id = a.company_id AND cu.is_active_in_company))
$$;

-- Whether a key still stands: active, unexpired, not suspended, and the
-- company it is bound to (if any) active.
CREATE FUNCTION pinv.key_stands(k uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM iam.api_keys AS a
                   WHERE a.id = k AND a.is_active AND (a.expires_at IS NULL OR a.expires_at > now())
                     AND (a.suspended_until IS NULL OR a.suspended_until <= now())
                     AND (pinv.key_company(k) IS NULL OR pinv.company_active(a.company_id)))
$$;

CREATE FUNCTION pinv.scope_covers(scope jsonb, w text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (SELECT FROM jsonb_array_elements_text(coalesce(scope, '[]')) AS s (g) WHERE pinv.covers(s.g, w))
$$;

-- iam.can(w, c) (one_arg: iam.can(w)) for a caller: anon (nothing named),
-- the service role or operator (privileged), a user, or a key request. A
-- key: its owner's answer within its scope; a key that names a company
-- answers in that company only (never in the one-argument form), also once
-- its owner has left it; a company's key: its scope in its company only. A
-- key that no longer stands answers nothing.
CREATE FUNCTION pinv.ref_can(u uuid, k uuid, privileged boolean, w text, c uuid, one_arg boolean) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN k IS NOT NULL THEN coalesce((
            SELECT pinv.key_stands(k) AND pinv.scope_covers(a.permissions, w)
                   AND CASE WHEN a.user_id IS NULL THEN NOT one_arg AND c IS NOT DISTINCT FROM a.company_id
                            ELSE (a.company_id IS NULL OR (NOT one_arg AND c = a.company_id))
                                 AND pinv.user_holds(a.user_id, w, CASE WHEN one_arg THEN NULL ELSE c END) END
            FROM iam.api_keys AS a WHERE a.id = k), false)
        WHEN u IS NOT NULL THEN pinv.user_holds(u, w, CASE WHEN one_arg THEN NULL ELSE c END)
        ELSE privileged END
$$;

------------------------------------------------------------------------------
-- What the actor held just before an operation (its own transaction, so its
-- snapshot): the user's grants, and the key's scope, company and standing.
------------------------------------------------------------------------------
CREATE TABLE pinv.held (op integer NOT NULL, company_id uuid, grant_ text NOT NULL);
CREATE TABLE pinv.held_key (op integer PRIMARY KEY, user_id uuid, company_id uuid, scope jsonb, stands boolean);
CREATE FUNCTION pinv.record_held(o integer, u uuid, k uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF k IS NOT NULL THEN
        INSERT INTO pinv.held_key SELECT o, a.user_id, pinv.key_company(k), a.permissions, pinv.key_stands(k)
        FROM iam.api_keys AS a WHERE a.id = k;
        SELECT a.user_id INTO u FROM iam.api_keys AS a WHERE a.id = k;
    END IF;
    IF u IS NOT NULL THEN
        INSERT INTO pinv.held SELECT o, h.company_id, h.grant_ FROM pinv.user_grants(u) AS h;
    END IF;
END
$$;
GRANT EXECUTE ON FUNCTION pinv.record_held(integer, uuid, uuid) TO PUBLIC;

------------------------------------------------------------------------------
-- Every row change of the model's tables, whoever makes it and however,
-- with what it gives: a grant added to a role gives that grant (in the
-- role's company; at platform level for a template or a platform role), a
-- role assigned gives each of the role's grants where it is held.
------------------------------------------------------------------------------
CREATE TABLE pinv.changes (
    id       bigserial PRIMARY KEY,
    op       integer,
    txid     bigint NOT NULL,
    tbl      text NOT NULL,
    tg_op    text NOT NULL,
    old      jsonb,
    new      jsonb,
    row_security text
);
CREATE TABLE pinv.gives (change_id bigint NOT NULL, company_id uuid, grant_ text NOT NULL);
CREATE FUNCTION pinv.shadow() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    change bigint;
BEGIN
    INSERT INTO pinv.changes (op, txid, tbl, tg_op, old, new, row_security)
    VALUES (nullif(current_setting('pinv.op', true), '')::integer, txid_current(), TG_TABLE_NAME, TG_OP, o, n,
            current_setting('row_security'))
    RETURNING id INTO change;
    IF TG_OP = 'DELETE' OR o IS NOT DISTINCT FROM n THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'role_permissions' THEN
        INSERT INTO pinv.gives VALUES (change, NULL, n ->> 'permission');
    ELSIF TG_TABLE_NAME = 'company_role_permissions' THEN
        INSERT INTO pinv.gives
        SELECT change, r.company_id, n ->> 'permission' FROM iam.company_roles AS r
        WHERE r.id = (n ->> 'company_role_id')::uuid;
    ELSIF TG_TABLE_NAME = 'company_member_roles' THEN
        INSERT INTO pinv.gives
        SELECT change, (n ->> 'company_id')::uuid, p.permission FROM iam.company_role_permissions AS p
        WHERE p.company_role_id = (n ->> 'company_role_id')::uuid;
    ELSIF TG_TABLE_NAME = 'user_roles' THEN
        INSERT INTO pinv.gives
        SELECT change, NULL, p.permission FROM iam.role_permissions AS p WHERE p.role_id = (n ->> 'role_id')::uuid;
    END IF;
    RETURN NULL;
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['permissions', 'role_permissions', 'company_roles', 'company_role_permissions',
                             'company_member_roles', 'user_roles', 'company_users', 'companies'] LOOP
        EXECUTE format('CREATE TRIGGER zzz_pinv_shadow AFTER INSERT OR UPDATE OR DELETE ON iam.%I '
                       'FOR EACH ROW EXECUTE FUNCTION pinv.shadow()', t);
    END LOOP;
END
$$;

CREATE TABLE pinv.audits (txid bigint NOT NULL, audit_id bigint NOT NULL, action text NOT NULL, old jsonb, new jsonb);
CREATE FUNCTION pinv.shadow_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO pinv.audits VALUES (txid_current(), NEW.id, NEW.action, NEW.old_row, NEW.new_row);
    RETURN NULL;
END
$$;
CREATE TRIGGER zzz_pinv_shadow AFTER INSERT ON iam.audit_log FOR EACH ROW EXECUTE FUNCTION pinv.shadow_audit();

------------------------------------------------------------------------------
-- iam.can()'s answers, asked by each identity after a batch.
------------------------------------------------------------------------------
CREATE TABLE pinv.answers (
    batch      integer NOT NULL,
    ident      text NOT NULL,
    user_id    uuid,
    key_id     uuid,
    privileged boolean NOT NULL,
    permission text NOT NULL,
    company_id uuid,
    one_arg    boolean NOT NULL,
    answer     boolean
);
GRANT INSERT ON pinv.answers TO PUBLIC;
-- A key request that authenticate_request() refused (the key no longer stands).
CREATE TABLE pinv.refused_keys (batch integer NOT NULL, key_id uuid NOT NULL);
GRANT INSERT ON pinv.refused_keys TO PUBLIC;
CREATE TABLE pinv.secrets (name text PRIMARY KEY, key_id uuid NOT NULL, secret text NOT NULL);
GRANT INSERT ON pinv.secrets TO PUBLIC;
