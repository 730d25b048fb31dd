-- The invariant suite's bookkeeping (test/integration/invariants.sh), made
-- by the superuser in schema inv, which the API roles may only append to:
-- which operation ran (ops), which committed (done: the operation's own
-- transaction inserts it last), the secrets of the keys the operations made,
-- the credits they spent, and a shadow log of every row change of iam's
-- tables and of every audit row, each with its transaction, so that the
-- invariants are plain SQL over what happened.
SET client_min_messages = warning;
CREATE SCHEMA inv;
GRANT USAGE ON SCHEMA inv TO PUBLIC;

CREATE TABLE inv.ops (
    id        integer PRIMARY KEY,
    batch     integer NOT NULL,
    session   integer NOT NULL,
    actor     text NOT NULL,     -- Alice, key:<name>, anon, service, operator
    actor_id  uuid,              -- the user the operation acts as, if any
    key_id    uuid,              -- the API key presented in request.headers, if any
    db_role   text NOT NULL,     -- anon, authenticated, service_role, operator
    path      text NOT NULL,     -- rest, sql, sql+row_security=off, race, check
    isolation text NOT NULL,
    kind      text NOT NULL,
    body      text NOT NULL
);
CREATE TABLE inv.done (op integer PRIMARY KEY);
CREATE TABLE inv.secrets (
    sid    serial PRIMARY KEY,
    key_id uuid NOT NULL,
    secret text NOT NULL,
    how    text NOT NULL,
    op     integer DEFAULT nullif(current_setting('inv.op', true), '')::integer
);
CREATE TABLE inv.tokens (
    token         text NOT NULL,
    invitee       uuid,
    op            integer DEFAULT nullif(current_setting('inv.op', true), '')::integer
);
CREATE TABLE inv.spent (op integer NOT NULL, key_id uuid NOT NULL, cost integer NOT NULL,
                        at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE inv.reported (op integer NOT NULL, key_id uuid NOT NULL, secret text NOT NULL, verified boolean);
CREATE TABLE inv.locks (op integer, relation text, mode text);
CREATE TABLE inv.answers (op integer, checked text, context text, via_where text, via_select text, plain text);
GRANT INSERT ON inv.done, inv.secrets, inv.tokens, inv.spent, inv.reported, inv.locks, inv.answers TO PUBLIC;
GRANT USAGE ON SEQUENCE inv.secrets_sid_seq TO PUBLIC;

-- Every row change of iam's tables, whoever makes it and however: the
-- operation (inv.op, set by the operation's transaction), the transaction,
-- the rows, and what the acting user held at that moment.
CREATE TABLE inv.changes (
    id                   bigserial PRIMARY KEY,
    op                   integer,
    txid                 bigint NOT NULL,
    at                   timestamptz NOT NULL,
    tbl                  text NOT NULL,
    tg_op                text NOT NULL,
    old                  jsonb,
    new                  jsonb,
    actor                uuid,
    actor_platform_admin boolean,
    actor_company_admin  boolean,
    key_may_write        boolean,
    request_key          boolean
);
CREATE FUNCTION inv.shadow() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    company uuid := CASE WHEN TG_TABLE_NAME = 'companies' THEN coalesce(n, o) ->> 'id'
                         ELSE coalesce(n, o) ->> 'company_id' END;
    actor uuid := iam.current_user_id();
BEGIN
    INSERT INTO inv.changes (op, txid, at, tbl, tg_op, old, new, actor, actor_platform_admin,
                             actor_company_admin, key_may_write, request_key)
    VALUES (nullif(current_setting('inv.op', true), '')::integer, txid_current(), clock_timestamp(),
            TG_TABLE_NAME, TG_OP, o, n, actor, iam.has_role(actor, 'platform_admin'),
            CASE WHEN company IS NOT NULL AND actor IS NOT NULL THEN iam.is_company_admin(company, actor) END,
            -- As the statement began: a key that revokes itself no longer
            -- holds anything once the row is written, when this runs.
            iam.has_permission('iam:' || TG_TABLE_NAME || ':write')
            OR (TG_TABLE_NAME = 'api_keys' AND (o ->> 'id')::uuid = iam.current_api_key_id()
                AND (o ->> 'is_active')::boolean
                AND o -> 'permissions' ?| '{*,iam:*,iam:api_keys:*,iam:api_keys:write}'::text[]),
            current_setting('request.headers', true) LIKE '%x-api-key%');
    RETURN NULL;
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roles', 'users', 'user_roles', 'companies', 'company_users', 'api_keys',
                             'company_invitations', 'user_settings'] LOOP
        EXECUTE format('CREATE TRIGGER zzz_inv_shadow AFTER INSERT OR UPDATE OR DELETE ON iam.%I '
                       'FOR EACH ROW EXECUTE FUNCTION inv.shadow()', t);
    END LOOP;
END
$$;

CREATE TABLE inv.audits (txid bigint NOT NULL, audit_id bigint NOT NULL, action text NOT NULL);
CREATE FUNCTION inv.shadow_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO inv.audits VALUES (txid_current(), NEW.id, NEW.action);
    RETURN NULL;
END
$$;
CREATE TRIGGER zzz_inv_shadow AFTER INSERT ON iam.audit_log FOR EACH ROW EXECUTE FUNCTION inv.shadow_audit();

-- The plain SQL that iam.is_company_member(company_id) stands for, read as
-- the superuser in the caller's snapshot.
CREATE FUNCTION inv.plain_member(company uuid, member uuid) RETURNS boolean LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM iam.company_users AS cu JOIN iam.companies AS c ON c.id = cu.company_id
                   WHERE cu.company_id = company AND cu.user_id = member AND cu.is_active_in_company
                     AND c.current_iam_status = 'active' AND NOT c.is_deleted)
$$;
GRANT EXECUTE ON FUNCTION inv.plain_member(uuid, uuid) TO PUBLIC;

-- Who sells: the operator, the service role and platform_admin. A change
-- of api_keys that spends (a request or consume_api_key) is usage.
CREATE FUNCTION inv.is_seller(o inv.ops, c inv.changes) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT o.db_role IN ('operator', 'service_role') OR coalesce(c.actor_platform_admin, false)
$$;
CREATE FUNCTION inv.strip(r jsonb, keys text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT r - keys $$;
