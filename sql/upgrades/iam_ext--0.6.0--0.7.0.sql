-- iam_ext 0.6.0 -> 0.7.0, as released (frozen: never edit a released script).

\echo Use "ALTER EXTENSION iam_ext UPDATE TO '0.7.0'" to load this file. \quit

-- The hand-written part of the upgrade from 0.6.0 to 0.7.0: what changes in
-- the tables (columns, constraints, indexes, data) and what goes away.
-- make appends the rest: every function, trigger, policy and view as
-- sql/schema/ defines it now (docs/development.md, "Changing SQL").
--
-- 0.7.0: the rules hold whichever way a row is written. An API key is never
-- more than its scope; a key's secret goes to its owner only; revocation is
-- final; referral codes and referrals keep their rules under direct SQL; the
-- built-in roles keep their names; every change to keys and to the role
-- catalogue is audited; banned and deleted Supabase users' keys stop
-- verifying; companies have admins and invitations; keys have credits and
-- rate limits.

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

-- rotate_api_key gained its grace argument.
DROP FUNCTION iam.rotate_api_key(uuid);

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

-- enterprise_admin no longer administers anything: its seeded description
-- says so (a description the operator changed is left as it is).
UPDATE iam.roles
SET description = 'Platform role for the application''s use; administers no company (company admins: role_in_company)'
WHERE id = '00000000-0000-4000-8000-000000000003'
  AND description = 'Administers a company: its members and its API keys';

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

-- Invitations by email admit a confirmed address only (docs/companies.md):
-- where the Supabase sync is on, the definitions that follow run
-- enable_auth_sync again, which fills it;
-- elsewhere existing users count as unconfirmed until the service role
-- confirms them.
ALTER TABLE iam.users ADD COLUMN email_confirmed_at timestamptz;
COMMENT ON COLUMN iam.users.email_confirmed_at IS
    'When the user''s current email was confirmed (on Supabase copied from auth.users; elsewhere set by the service role); NULL: unconfirmed, and an invitation by email does not admit them';

-- A rotation's new key counts its requests under the rate limit's count of
-- the key it replaces, and so does every later rotation (docs/api_keys.md);
-- NULL, as for every key of 0.6.0: its own id.
ALTER TABLE iam.api_keys ADD COLUMN rate_limit_key_id uuid;
COMMENT ON COLUMN iam.api_keys.rate_limit_key_id IS
    'The key under whose id this key''s requests are counted against rate_limit: the first key of the rotations (with a grace) that led to this one, so that a rotation never starts a fresh count; NULL: its own id. Set by iam.rotate_api_key only';

------------------------------------------------------------------------------
-- What a company's admins read of their members: a copy of email and
-- full_name under its own RLS policy (iam.company_members is
-- security_invoker), filled from iam.users and kept by a trigger from now on.
------------------------------------------------------------------------------
CREATE TABLE iam.member_profiles (
    user_id   uuid PRIMARY KEY REFERENCES iam.users (id) ON DELETE CASCADE,
    email     varchar,
    full_name varchar
);
COMMENT ON TABLE iam.member_profiles IS
    'A copy of each user''s email and full_name, kept by the trigger iam.copy_member_profile on iam.users: what the admins of the companies a user is an active member of may read (iam.company_members)';
COMMENT ON COLUMN iam.member_profiles.user_id IS 'The user';
COMMENT ON COLUMN iam.member_profiles.email IS 'iam.users.email, copied';
COMMENT ON COLUMN iam.member_profiles.full_name IS 'iam.users.full_name, copied';
INSERT INTO iam.member_profiles (user_id, email, full_name) SELECT u.id, u.email, u.full_name FROM iam.users AS u;
SELECT pg_catalog.pg_extension_config_dump('iam.member_profiles', '');

-- Between an upgrade's hand-written part and the definitions of sql/schema/:
-- policies have no CREATE OR REPLACE, so an upgrade drops every policy of
-- iam here and sql/schema/ creates them as they are now. Functions,
-- triggers and views are replaced in place.
DO $$
DECLARE
    policy record;
BEGIN
    FOR policy IN SELECT policyname, tablename FROM pg_catalog.pg_policies WHERE schemaname = 'iam' LOOP
        EXECUTE format('DROP POLICY %I ON iam.%I', policy.policyname, policy.tablename);
    END LOOP;
END
$$;

-- updated_at maintenance: companies and user_settings stamp their own
-- changes (C++: src/pg/rules/updated_at.cpp).

CREATE OR REPLACE FUNCTION iam.set_updated_at() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_set_updated_at';
COMMENT ON FUNCTION iam.set_updated_at() IS
    'BEFORE UPDATE row trigger: sets updated_at to the transaction timestamp (now())';
-- Trigger functions are not for calling: nobody but the owner executes them.
REVOKE EXECUTE ON FUNCTION iam.set_updated_at() FROM PUBLIC;

CREATE OR REPLACE TRIGGER companies_set_updated_at
    BEFORE UPDATE ON iam.companies
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION iam.set_updated_at();
CREATE OR REPLACE TRIGGER user_settings_set_updated_at
    BEFORE UPDATE ON iam.user_settings
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION iam.set_updated_at();

-- Who is calling, and what they may do: the identity context and the role
-- and company checks that policies run per row (C++: src/pg/identity and
-- src/pg/checks).

------------------------------------------------------------------------------
-- The identity context and the checks
------------------------------------------------------------------------------
-- Policies are evaluated as the querying role, so these run as the caller
-- (no SECURITY DEFINER) and are executable by everyone; the C code reads
-- iam.user_roles, iam.company_users and iam.companies through their indexes
-- for the answer it returns, whatever the caller may select.

CREATE OR REPLACE FUNCTION iam.current_user_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_user_id';
COMMENT ON FUNCTION iam.current_user_id() IS
    'The calling user: in a request authenticated by iam.authenticate_request(), the API key''s user; else request.jwt.claim.sub, else request.jwt.claims ->> ''sub'' (as auth.uid()); NULL if none or not a UUID';

CREATE OR REPLACE FUNCTION iam.has_role(role_name text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_role_current';
COMMENT ON FUNCTION iam.has_role(text) IS
    'Whether the current user holds the role; an unknown role is an error (42704)';

CREATE OR REPLACE FUNCTION iam.has_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_role';
COMMENT ON FUNCTION iam.has_role(uuid, text) IS
    'Whether the user holds the role (false for a NULL user); an unknown role is an error (42704)';

CREATE OR REPLACE FUNCTION iam.has_any_role(role_names text[]) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_any_role';
COMMENT ON FUNCTION iam.has_any_role(text[]) IS
    'Whether the current user holds any of the roles; NULL elements are ignored, an unknown role is an error (42704)';

CREATE OR REPLACE FUNCTION iam.roles_of(user_id uuid DEFAULT iam.current_user_id()) RETURNS text[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_roles_of';
COMMENT ON FUNCTION iam.roles_of(uuid) IS
    'The names of the roles the user holds, sorted; empty for a NULL user';

CREATE OR REPLACE FUNCTION iam.is_company_member(company_id uuid, user_id uuid DEFAULT iam.current_user_id())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_company_member';
COMMENT ON FUNCTION iam.is_company_member(uuid, uuid) IS
    'Whether the user is active in the company and the company is active and not deleted';

CREATE OR REPLACE FUNCTION iam.is_company_admin(company_id uuid, user_id uuid DEFAULT iam.current_user_id())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_company_admin';
COMMENT ON FUNCTION iam.is_company_admin(uuid, uuid) IS
    'Whether the user is a member of the company (see is_company_member) whose role_in_company is admin';

CREATE OR REPLACE FUNCTION iam.current_company_ids() RETURNS uuid[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_company_ids';
COMMENT ON FUNCTION iam.current_company_ids() IS
    'The active companies the current user is an active member of, for company_id = ANY (...) policies; in a request authenticated by a company''s API key, that company';

-- Not STRICT: it answers exactly what company_id = ANY
-- (iam.current_company_ids()) answers, NULL included (false for a NULL
-- company when the caller has no current company, NULL when they have one),
-- since the planner puts it in that expression's place.
CREATE OR REPLACE FUNCTION iam.is_current_company(company_id uuid) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_current_company';
COMMENT ON FUNCTION iam.is_current_company(uuid) IS
    'company_id = ANY (iam.current_company_ids()), NULLs included, at the cost of a hash probe per row; the planner writes that expression as this call';

-- Who stands above RLS: superusers and Supabase's service_role, in the
-- session (the session user, or the role it SET ROLE to), whatever role a
-- SECURITY DEFINER function runs as.
CREATE OR REPLACE FUNCTION iam.is_service_caller() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_service_caller';
COMMENT ON FUNCTION iam.is_service_caller() IS
    'Whether the session (its user, or the role it SET ROLE to; not the role a SECURITY DEFINER function runs as) is a superuser or has the privileges of service_role';

-- Who stands above the extension's own rules (what they make final, such as
-- an invitation's bounds): the operator, a superuser or a role with the
-- privileges of the extension's owner, in the session.
CREATE OR REPLACE FUNCTION iam.is_operator_session() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_operator_session';
COMMENT ON FUNCTION iam.is_operator_session() IS
    'Whether the session (its user, or the role it SET ROLE to; not the role a SECURITY DEFINER function runs as) is the operator: a superuser or a role with the privileges of the extension''s owner';

------------------------------------------------------------------------------
-- Not found, for HTTP too. PostgREST answers 500 for P0002; inside a
-- PostgREST request this raises it in PostgREST's own format instead, so the
-- client gets 404 with "code": "P0002" (src/pg/boundary/http_errors.hpp). The
-- PL/pgSQL functions below raise their not-found errors through it.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.raise_not_found(message text, hint text DEFAULT NULL) RETURNS void
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_raise_not_found';
COMMENT ON FUNCTION iam.raise_not_found(text, text) IS
    'Raises P0002 with the message; inside a PostgREST request, as PostgREST''s HTTP 404';

-- The audit trail: who changed which role grant, membership, role of the
-- catalogue, API key or invitation, and when (C++: src/pg/rules/audit.cpp).
-- Every audited table's trigger is here.

-- The audit trail (src/pg/rules/audit.cpp)
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.audit_change() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_audit_change';
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles, company_users, roles, api_keys and company_invitations: writes iam.audit_log as the table''s owner';
REVOKE EXECUTE ON FUNCTION iam.audit_change() FROM PUBLIC;
CREATE OR REPLACE TRIGGER user_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.user_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_users_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
-- Every change to a key is audited, its credits and limits included, by
-- whoever and however it is made; but for the statement by which a request
-- spends credits (and refills them when a refill falls due), which is the
-- hot path and the seller's terms at work: the WHEN leaves it out before
-- any audit row is queued. last_used_at, verification's bookkeeping, is not
-- in the list.
CREATE OR REPLACE FUNCTION iam.is_spending_credits() RETURNS boolean
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_is_spending_credits';
COMMENT ON FUNCTION iam.is_spending_credits() IS
    'Whether this backend is running the statement by which a request spends an API key''s credits (known from the extension''s memory, never from a setting); false anywhere else';
CREATE OR REPLACE TRIGGER api_keys_audit
    AFTER INSERT OR DELETE OR UPDATE OF user_id, company_id, name, key_prefix, hashed_key, permissions,
        expires_at, is_active, remaining, refill_amount, refill_interval, refilled_at, rate_limit,
        rate_limit_window ON iam.api_keys
    FOR EACH ROW WHEN (NOT iam.is_spending_credits()) EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_invitations_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_invitations
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();

-- The role catalogue and who holds which platform role: the built-in roles
-- keep their ids and names; granting and revoking run as the caller.

------------------------------------------------------------------------------
-- The role catalogue: the built-in roles keep their ids and names
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.guard_role() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_role';
COMMENT ON FUNCTION iam.guard_role() IS
    'BEFORE UPDATE OR DELETE trigger of roles: the seven built-in roles keep their ids and names, for everyone but the operator';
REVOKE EXECUTE ON FUNCTION iam.guard_role() FROM PUBLIC;
CREATE OR REPLACE TRIGGER roles_guard BEFORE UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_role();
------------------------------------------------------------------------------
-- Granting and revoking roles. These run as the caller: the insert or
-- delete passes the RLS policies of iam.user_roles like any other; the
-- checks up front turn a refusal into a clear message.
------------------------------------------------------------------------------
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
COMMENT ON FUNCTION iam.require_role_administrator(uuid, text, text) IS
    'The checks shared by grant_role and revoke_role: arguments, privilege, no self-grant; returns the role id';

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
COMMENT ON FUNCTION iam.grant_role(uuid, text) IS
    'Grants the role to the user; true if it was not held. Superusers, service_role and platform_admin only (42501); never to oneself';

CREATE OR REPLACE FUNCTION iam.revoke_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    revoked_role uuid := iam.require_role_administrator(user_id, role_name, 'revoke');
    changed bigint;
BEGIN
    DELETE FROM iam.user_roles AS ur WHERE ur.user_id = revoke_role.user_id AND ur.role_id = revoked_role;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.revoke_role(uuid, text) IS
    'Revokes the role from the user; true if it was held. Superusers, service_role and platform_admin only (42501)';

-- API keys: the peppers' rotation, verification, creation, rotation and
-- revocation, the PostgREST pre-request function and the permissions of the
-- request's key (C++: src/pg/api_keys/api_keys.cpp, peppers.cpp, request.cpp), and
-- the rules every write to iam.api_keys is held to (src/pg/rules/api_key_rules.cpp).

CREATE OR REPLACE FUNCTION iam.rotate_api_key_pepper() RETURNS integer
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'iam_rotate_api_key_pepper';
COMMENT ON FUNCTION iam.rotate_api_key_pepper() IS
    'Generates a new pepper version for new keys (existing keys keep verifying); returns the version. Operator only';
REVOKE EXECUTE ON FUNCTION iam.rotate_api_key_pepper() FROM PUBLIC;

-- Verification: for a login path, so a bad credential is never an error and
-- never says why. VOLATILE because it may update last_used_at (at most once
-- per iam.last_used_interval, never in a read-only transaction or on a
-- standby). Runs as the caller: the C code reads the key's row whatever the
-- caller may select, for this answer only.
CREATE OR REPLACE FUNCTION iam.verify_api_key(api_key text)
    RETURNS TABLE (key_id uuid, user_id uuid, company_id uuid, permissions jsonb, expires_at timestamptz)
    LANGUAGE c VOLATILE PARALLEL RESTRICTED ROWS 1
    AS 'MODULE_PATHNAME', 'iam_verify_api_key';
COMMENT ON FUNCTION iam.verify_api_key(text) IS
    'One row for a valid key; no row for NULL, malformed, bad checksum, unknown, wrong secret, revoked, expired, or a suspended or deleted company''s key';

CREATE OR REPLACE FUNCTION iam.api_key_has_permission(api_key text, permission text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_api_key_has_permission';
COMMENT ON FUNCTION iam.api_key_has_permission(text, text) IS
    'Whether the key is valid and its permissions cover the permission ("*" and "resource:*" wildcards); false otherwise';

-- Creation and rotation insert and update as the caller: the RLS policies of
-- iam.api_keys decide for whom a caller may make or rotate a key.
CREATE OR REPLACE FUNCTION iam.create_api_key(name text, user_id uuid DEFAULT NULL, company_id uuid DEFAULT NULL,
                                   permissions jsonb DEFAULT '[]', expires_at timestamptz DEFAULT NULL)
    RETURNS TABLE (id uuid, api_key text, key_prefix text)
    LANGUAGE c VOLATILE ROWS 1
    AS 'MODULE_PATHNAME', 'iam_create_api_key';
COMMENT ON FUNCTION iam.create_api_key(text, uuid, uuid, jsonb, timestamptz) IS
    'Creates a key for the current user, or for a company one administers; the plaintext key is in the result only, never stored';

CREATE OR REPLACE FUNCTION iam.rotate_api_key(key_id uuid, grace interval DEFAULT '0')
    RETURNS TABLE (id uuid, api_key text, key_prefix text)
    LANGUAGE c VOLATILE ROWS 1
    AS 'MODULE_PATHNAME', 'iam_rotate_api_key';
COMMENT ON FUNCTION iam.rotate_api_key(uuid, interval) IS
    'A new secret for an active key, same name, owner, permissions and expiry, for the key''s user (a company key: its admins) only. Without grace the old secret stops at once (same key id); with grace (up to 90 days) a new key replaces it (replaces_key_id) and the old one verifies until the grace ends, never past its expiry';

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
COMMENT ON FUNCTION iam.revoke_api_key(uuid) IS
    'Revokes the key (is_active = false); true if it was active, false if already revoked; P0002 if the caller cannot see it';

------------------------------------------------------------------------------
-- Usage: credits spent by the requests a key makes, and a rate limit on
-- them (C++: src/pg/api_keys/key_usage.cpp, rate_limits.cpp). iam.authenticate_request
-- charges each request one credit and one slot of the rate limit;
-- consume_api_key charges a call any cost. Only the service role, a
-- platform_admin or the operator give a key credits or a limit; its owner
-- may only lower them (src/pg/rules/api_key_rules.cpp).
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.consume_api_key(api_key text, cost integer DEFAULT 1) RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'iam_consume_api_key';
COMMENT ON FUNCTION iam.consume_api_key(text, integer) IS
    'Verifies the key, counts the call against its rate limit and spends cost credits in this transaction; returns the credits left (NULL: unlimited). 28000 for a bad key, 53400 over the limit or without enough credits';

CREATE OR REPLACE FUNCTION iam.api_key_credits_remaining() RETURNS integer
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_api_key_credits_remaining';
COMMENT ON FUNCTION iam.api_key_credits_remaining() IS
    'The credits the request''s API key has left after iam.authenticate_request charged it; NULL without a key or for unlimited';

CREATE OR REPLACE FUNCTION iam.set_api_key_credits(key_id uuid, remaining integer, refill_amount integer DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION iam.set_api_key_rate_limit(key_id uuid, requests integer, per interval DEFAULT '1 minute')
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
-- included (a secret scanner, a finder). It runs as the caller, who may see
-- no key: presenting the secret (iam.present_api_key) admits that key's row,
-- and only it, to the policies of api_keys. A report revokes the row whose
-- hash the key matches, whatever its state: a key reported while it does not
-- verify (its company suspended, its user banned, expired) stays revoked
-- when its company or user is restored, and revocation is final. The answer
-- is true when a key has this secret (it is revoked now), false when none
-- has: only a holder of the whole secret learns it, which verify_api_key
-- tells them too for a live key.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.present_api_key(api_key text) RETURNS void
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_present_api_key';
COMMENT ON FUNCTION iam.present_api_key(text) IS
    'Records, for the rest of the transaction, the key whose secret this is, whatever its state; nothing for any other text. The policies let its holder revoke it';

CREATE OR REPLACE FUNCTION iam.presented_api_key_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_presented_api_key_id';
COMMENT ON FUNCTION iam.presented_api_key_id() IS
    'The id of the key whose secret this transaction presented (iam.present_api_key); NULL if none';

CREATE OR REPLACE FUNCTION iam.is_presented_api_key(hashed_key text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_is_presented_api_key';
COMMENT ON FUNCTION iam.is_presented_api_key(text) IS
    'Whether a stored hashed_key is that of the key this transaction presented (the policies of api_keys ask it)';

-- While a key is presented, its row changes only by its revocation: whoever
-- holds a stranger's secret revokes the key, and may not rename, narrow or
-- re-date it on the way (its owner and its admins do that in a transaction
-- that presents no secret). Named to run before api_keys_guard, on the row
-- as the caller wrote it.
CREATE OR REPLACE FUNCTION iam.freeze_presented_api_key() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.id = iam.presented_api_key_id() AND NOT iam.is_spending_credits()
       AND (to_jsonb(NEW) - 'is_active') IS DISTINCT FROM (to_jsonb(OLD) - 'is_active') THEN
        RAISE EXCEPTION 'a key presented as leaked may only be revoked'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change the key in a transaction that does not present its secret.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.freeze_presented_api_key() IS
    'BEFORE UPDATE row trigger of api_keys: the key this transaction presented changes only in is_active';
REVOKE EXECUTE ON FUNCTION iam.freeze_presented_api_key() FROM PUBLIC;
CREATE OR REPLACE TRIGGER api_keys_freeze_presented BEFORE UPDATE ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.freeze_presented_api_key();

-- Runs as the caller: presenting the secret is what admits the key's row to
-- the policy api_keys_report, for anyone, anon included.
CREATE OR REPLACE FUNCTION iam.report_leaked_api_key(api_key text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF api_key IS NULL OR length(api_key) <> 51 OR api_key !~ '^iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$' THEN
        RAISE EXCEPTION 'this is not an iam_ext API key'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An iam_ext API key matches iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}.';
    END IF;
    PERFORM iam.present_api_key(api_key);
    IF iam.presented_api_key_id() IS NULL THEN
        RETURN false;
    END IF;
    IF row_security_active('iam.api_keys') THEN
        -- No WHERE: the policies admit the presented key alone, while active
        -- (a WHERE would need anon to read the table).
        UPDATE iam.api_keys SET is_active = false;
    ELSE
        -- The service role and the operator bypass RLS: they say which key.
        UPDATE iam.api_keys AS k SET is_active = false
        WHERE k.id = iam.presented_api_key_id() AND k.is_active AND iam.is_presented_api_key(k.hashed_key);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION iam.report_leaked_api_key(text) IS
    'Revokes for good the key it is given, whatever its state, for anyone who holds it (anon included); audited with the reporter''s role; true if a key has this secret (now revoked), false if none has. Runs as the caller: a request authenticated by an API key needs iam:api_keys:write';

------------------------------------------------------------------------------
-- The owner's view of their keys' life cycle, under RLS: the active keys the
-- caller may see that expire soon, and those nobody has used for a while.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.expiring_api_keys(within interval DEFAULT '30 days')
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

CREATE OR REPLACE FUNCTION iam.unused_api_keys(for_at_least interval DEFAULT '90 days')
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
-- The API-key context of a request (PostgREST's db-pre-request).
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.authenticate_request() RETURNS void
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'iam_authenticate_request';
COMMENT ON FUNCTION iam.authenticate_request() IS
    'db-pre-request: an API key in request.headers (x-api-key, or authorization: ApiKey <key>) makes the key''s owner the caller for this transaction; a bad key is 28000';

CREATE OR REPLACE FUNCTION iam.has_permission(permission text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_has_permission';
COMMENT ON FUNCTION iam.has_permission(text) IS
    'Whether the API key of the current request grants the permission ("*" and "resource:*" wildcards); false without one';

------------------------------------------------------------------------------
-- API keys: valid names and permissions, narrowing only, final revocation,
-- the secret for the owner only, the request key's own scope, a cap per
-- owner; created_by and suspended_until stamped on insert.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.guard_api_key() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_api_key';
COMMENT ON FUNCTION iam.guard_api_key() IS
    'BEFORE INSERT OR UPDATE trigger of api_keys: the rules of docs/security.md, "API keys", whichever way a key is written';
REVOKE EXECUTE ON FUNCTION iam.guard_api_key() FROM PUBLIC;
CREATE OR REPLACE TRIGGER api_keys_guard BEFORE INSERT OR UPDATE ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.guard_api_key();
-- Not fired for last_used_at, remaining and refilled_at, which requests
-- write.

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


-- Tenancy: who administers a company (company_users.role_in_company), how
-- people join one (invitations, accepted by the invitee with a single-use
-- token), the rule that a company keeps an admin, and what its admins may
-- read of their members.

------------------------------------------------------------------------------
-- Companies: membership, suspension, soft deletion. Company admins manage
-- their own company's members and may delete it; only platform_admin and the
-- service role change a company's status. Like grant_role, these run as the
-- caller and pass the RLS policies; the checks up front give clear errors.
------------------------------------------------------------------------------
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
COMMENT ON FUNCTION iam.require_company_administrator(uuid, text) IS
    'The checks shared by the company functions: argument, privilege (service role, platform_admin or the company''s admin), company exists';

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
COMMENT ON FUNCTION iam.remove_company_member(uuid, uuid) IS
    'Soft removal: sets is_active_in_company to false (the row and its history stay); true if the user was an active member';

CREATE OR REPLACE FUNCTION iam.set_company_status(company_id uuid, status text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    IF status IS NULL OR status NOT IN ('active', 'suspended_by_admin', 'pending_verification') THEN
        RAISE EXCEPTION 'invalid company status: %', coalesce(quote_literal(left(status, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A status is one of active, suspended_by_admin, pending_verification.';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to change the status of company %', company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only platform_admin and the service role may suspend or reactivate a company.';
    END IF;
    PERFORM iam.require_company_administrator(company_id, 'change the status of');
    UPDATE iam.companies AS c SET current_iam_status = status
    WHERE c.id = set_company_status.company_id AND c.current_iam_status IS DISTINCT FROM status;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.set_company_status(uuid, text) IS
    'Sets current_iam_status (e.g. suspended_by_admin to suspend); platform_admin and the service role only; true if it changed';

CREATE OR REPLACE FUNCTION iam.delete_company(company_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'delete');
    UPDATE iam.companies AS c SET is_deleted = true, deleted_at = now()
    WHERE c.id = delete_company.company_id AND NOT c.is_deleted;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.delete_company(uuid) IS
    'Soft deletion: sets is_deleted and deleted_at; its members lose their membership checks at once';

-- Nobody changes their own company's status, whichever way they update the
-- row: only the service role and platform_admin change current_iam_status or
-- bring a deleted company back.
CREATE OR REPLACE FUNCTION iam.guard_company_status() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF (NEW.current_iam_status IS DISTINCT FROM OLD.current_iam_status
        OR (OLD.is_deleted AND NOT NEW.is_deleted))
       AND NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to change the status of company %', OLD.id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only platform_admin and the service role may suspend, reactivate or undelete a company.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.guard_company_status() IS
    'BEFORE UPDATE trigger of companies: status changes and undeletes are for platform_admin and the service role (42501)';
REVOKE EXECUTE ON FUNCTION iam.guard_company_status() FROM PUBLIC;
CREATE OR REPLACE TRIGGER companies_guard_status BEFORE UPDATE ON iam.companies
    FOR EACH ROW EXECUTE FUNCTION iam.guard_company_status();


-- Inviting, revoking and accepting run as the caller, through the policies
-- of iam.company_invitations and company_users. The invitee may neither read
-- the invitation nor insert a membership until they present its token: the
-- token's hash, recorded for the transaction by iam.present_invitation_token
-- (C, backend memory no client can set without the token), admits the
-- invitation to its invitee, and that invitation, once accepted by them in
-- the same transaction, admits their membership.
CREATE OR REPLACE FUNCTION iam.present_invitation_token(token text) RETURNS void
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_present_invitation_token';
COMMENT ON FUNCTION iam.present_invitation_token(text) IS
    'Records the hash of an invitation''s token for the rest of the transaction (nothing for NULL or more than 64 characters); the policies admit the invitation to its invitee';

CREATE OR REPLACE FUNCTION iam.presented_invitation_hash() RETURNS text
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_presented_invitation_hash';
COMMENT ON FUNCTION iam.presented_invitation_hash() IS
    'The token_hash of the invitation whose token this transaction presented (iam.present_invitation_token); NULL if none';

CREATE OR REPLACE FUNCTION iam.presented_invitation_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_presented_invitation_id';
COMMENT ON FUNCTION iam.presented_invitation_id() IS
    'The id of the invitation whose token this transaction presented (iam.present_invitation_token); NULL if none';

CREATE OR REPLACE FUNCTION iam.invite_to_company(company_id uuid, email text DEFAULT NULL, user_id uuid DEFAULT NULL,
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
    VALUES (invite_to_company.company_id, lower(btrim(email) COLLATE "C"), user_id, invite_to_company.role_in_company,
            encode(sha256(convert_to(new_token, 'UTF8')), 'hex'), iam.current_user_id(), now() + lifetime)
    RETURNING i.id, i.expires_at INTO invitation_id, invite_to_company.expires_at;
    token := new_token;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION iam.invite_to_company(uuid, text, uuid, text, interval) IS
    'Invites a person (by email or user id) into the company as member or admin; returns the single-use token, shown once. The company''s admins, platform_admin and the service role (42501)';

CREATE OR REPLACE FUNCTION iam.revoke_company_invitation(invitation_id uuid) RETURNS boolean
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

CREATE OR REPLACE FUNCTION iam.accept_company_invitation(token text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
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
    PERFORM iam.present_invitation_token(token);
    -- The policy admits only a pending invitation of this token addressed
    -- to the caller; iam.present_invitation_token names it only while its
    -- inviter still administers the company (or holds platform_admin), or
    -- when it names no inviter (made by the service role or the operator).
    -- (Not *: the API roles may not read token_hash.)
    SELECT i.id, i.company_id, i.role_in_company, i.invited_user_id, i.invited_email, i.expires_at, i.revoked_at
    INTO invitation.id, invitation.company_id, invitation.role_in_company, invitation.invited_user_id,
         invitation.invited_email, invitation.expires_at, invitation.revoked_at
    FROM iam.company_invitations AS i
    WHERE i.id = iam.presented_invitation_id() AND i.accepted_at IS NULL
    FOR UPDATE;
    -- One answer for every token that does not admit this caller, so that a
    -- guesser learns nothing from it. The policies decide for the API roles;
    -- the same conditions are asked here for the roles that bypass RLS. An
    -- invitation by email admits the holder of that address once they have
    -- confirmed it, compared as mail systems compare addresses: ASCII
    -- letters without regard to case, any other character as it is (lower()
    -- would fold a look-alike such as U+212A KELVIN SIGN into k).
    IF invitation.id IS NULL OR invitation.revoked_at IS NOT NULL OR invitation.expires_at <= now()
       OR NOT (coalesce(invitation.invited_user_id = caller, false)
               OR coalesce(invitation.invited_email = (SELECT lower(u.email COLLATE "C") FROM iam.users AS u
                                                       WHERE u.id = caller AND u.email_confirmed_at IS NOT NULL),
                           false))
       OR NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = invitation.company_id AND NOT c.is_deleted) THEN
        PERFORM iam.raise_not_found('no such invitation for you: it is unknown, expired, revoked, used, or someone else''s',
                                    'Ask the company''s admin for a new invitation.');
    END IF;
    UPDATE iam.company_invitations AS i SET accepted_at = now(), accepted_by = caller WHERE i.id = invitation.id;
    INSERT INTO iam.company_users AS cu (user_id, company_id, role_in_company)
    VALUES (caller, invitation.company_id, invitation.role_in_company)
    ON CONFLICT ON CONSTRAINT company_users_pkey DO UPDATE
        SET is_active_in_company = true,
            role_in_company = CASE WHEN cu.is_active_in_company AND cu.role_in_company = 'admin' THEN 'admin'
                                   ELSE excluded.role_in_company END;
    RETURN invitation.company_id;
END
$$;
COMMENT ON FUNCTION iam.accept_company_invitation(text) IS
    'The invitee (by user id, or by the email of their iam.users row) joins the company with the token; returns the company id. Any other token: P0002. Runs as the caller: a request authenticated by an API key needs iam:company_invitations:write and iam:company_users:write';
-- For authenticated and service_role (apply_grants): anon has no user.
REVOKE EXECUTE ON FUNCTION iam.accept_company_invitation(text) FROM PUBLIC;

-- The bounds of invite_to_company hold for an invitation inserted by plain
-- SQL too: its inviter is whoever inserts it (NULL for the service role and
-- the operator), its lifetime is more than 0 and at most 90 days from now,
-- its email is stored as the acceptance compares it, and its token_hash is a
-- SHA-256 in hex; once made, an invitation is only revoked, or accepted
-- once. The operator in the session (a superuser, or a role with the
-- privileges of the extension's owner: a restore, too) stands above these
-- rules; a SECURITY DEFINER function running as the tables' owner on a
-- caller's behalf does not.
CREATE OR REPLACE FUNCTION iam.guard_company_invitation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF iam.is_operator_session() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.company_id, NEW.invited_email, NEW.invited_user_id, NEW.role_in_company, NEW.token_hash,
            NEW.invited_by, NEW.created_at, NEW.expires_at)
           IS DISTINCT FROM (OLD.company_id, OLD.invited_email, OLD.invited_user_id, OLD.role_in_company,
                             OLD.token_hash, OLD.invited_by, OLD.created_at, OLD.expires_at)
           OR (OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)
           OR (OLD.accepted_at IS NOT NULL AND (NEW.accepted_at, NEW.accepted_by)
                                               IS DISTINCT FROM (OLD.accepted_at, OLD.accepted_by)) THEN
            RAISE EXCEPTION 'an invitation is not changed, only revoked or accepted once'
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Revoke it (iam.revoke_company_invitation) and invite again.';
        END IF;
        RETURN NEW;
    END IF;
    NEW.invited_by := iam.current_user_id();
    IF NEW.invited_by IS NULL AND NOT iam.is_service_caller() THEN
        RAISE EXCEPTION 'an invitation needs a signed-in inviter'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'A company''s admins invite, signed in as themselves.';
    END IF;
    NEW.created_at := now();
    NEW.invited_email := lower(btrim(NEW.invited_email) COLLATE "C");
    IF NEW.expires_at IS NULL OR NEW.expires_at <= now() OR NEW.expires_at > now() + interval '90 days' THEN
        RAISE EXCEPTION 'an invitation is valid for more than 0 and at most 90 days'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Invite with iam.invite_to_company(company_id, email => ..., valid_for => ...).';
    END IF;
    IF NEW.token_hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'an invitation''s token_hash is the SHA-256 of its token, in lower-case hex'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.accepted_at IS NOT NULL OR NEW.accepted_by IS NOT NULL OR NEW.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'a new invitation is neither accepted nor revoked'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.guard_company_invitation() IS
    'BEFORE INSERT OR UPDATE trigger of company_invitations: the bounds of invite_to_company for every insert (inviter, lifetime, email, token hash); an invitation only gets revoked or accepted once';
REVOKE EXECUTE ON FUNCTION iam.guard_company_invitation() FROM PUBLIC;
CREATE OR REPLACE TRIGGER company_invitations_guard BEFORE INSERT OR UPDATE ON iam.company_invitations
    FOR EACH ROW EXECUTE FUNCTION iam.guard_company_invitation();

-- A user's email confirmation belongs to the address: whoever changes the
-- address without confirming the new one (setting email_confirmed_at with
-- it) leaves the user unconfirmed.
CREATE OR REPLACE FUNCTION iam.users_email_confirmation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.email IS DISTINCT FROM OLD.email AND NEW.email_confirmed_at IS NOT DISTINCT FROM OLD.email_confirmed_at THEN
        NEW.email_confirmed_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.users_email_confirmation() IS
    'BEFORE UPDATE trigger of users: a changed email is unconfirmed unless email_confirmed_at is set with it';
REVOKE EXECUTE ON FUNCTION iam.users_email_confirmation() FROM PUBLIC;
CREATE OR REPLACE TRIGGER users_email_confirmation BEFORE UPDATE OF email ON iam.users
    FOR EACH ROW EXECUTE FUNCTION iam.users_email_confirmation();

------------------------------------------------------------------------------
-- Roles in a company, and the rule that a company keeps an admin
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.set_company_role(company_id uuid, user_id uuid, role_in_company text) RETURNS boolean
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

CREATE OR REPLACE FUNCTION iam.company_admin_remains(company_id uuid, user_id uuid) RETURNS boolean
    LANGUAGE c VOLATILE STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_company_admin_remains';
COMMENT ON FUNCTION iam.company_admin_remains(uuid, uuid) IS
    'Whether the company has an active admin other than the user in its latest committed state (not the transaction''s snapshot), as the caller may read it; for keep_a_company_admin';

-- Runs as the caller: a company admin sees the memberships of the company,
-- and may lock its row (its UPDATE policy), which makes two admins removing
-- each other wait for one another.
CREATE OR REPLACE FUNCTION iam.keep_a_company_admin() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF OLD.is_active_in_company AND OLD.role_in_company = 'admin'
       AND (TG_OP = 'DELETE' OR NOT NEW.is_active_in_company OR NEW.role_in_company <> 'admin') THEN
        -- Every change to a company's admins takes the lock, the platform's
        -- too: an admin who checks while a platform admin removes another
        -- would otherwise count the one being removed.
        PERFORM FROM iam.companies AS c WHERE c.id = OLD.company_id FOR UPDATE;
        -- After the lock, the committed state: under REPEATABLE READ and
        -- SERIALIZABLE the transaction's snapshot may predate the change the
        -- lock waited for.
        IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin'))
           AND NOT iam.company_admin_remains(OLD.company_id, OLD.user_id) THEN
            IF EXISTS (SELECT FROM iam.company_users AS cu
                       WHERE cu.company_id = OLD.company_id AND cu.user_id <> OLD.user_id
                         AND cu.is_active_in_company AND cu.role_in_company = 'admin') THEN
                RAISE EXCEPTION 'could not serialize access: the admins of company % changed after this transaction began',
                                OLD.company_id
                    USING ERRCODE = 'serialization_failure',
                          HINT = 'Retry the transaction: it will see the company''s admins as they are now.';
            END IF;
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
CREATE OR REPLACE TRIGGER company_users_keep_an_admin BEFORE UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.keep_a_company_admin();

-- Bringing a removed member back is adding them again, by whatever path:
-- as iam.add_company_member, only platform_admin and the service role do
-- it, and otherwise the member themselves by accepting an invitation
-- (their consent). A company's admins invite; they neither add nor
-- reactivate.
CREATE OR REPLACE FUNCTION iam.guard_member_reactivation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')
            OR NEW.user_id IS NOT DISTINCT FROM iam.current_user_id()) THEN
        RAISE EXCEPTION 'permission denied to bring back a removed member of company %', NEW.company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Invite them again: iam.invite_to_company(company_id, user_id => ...). Only platform_admin and the service role add members directly.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.guard_member_reactivation() IS
    'BEFORE UPDATE trigger of company_users: a removed member is made active again only by platform_admin, the service role, or themselves accepting an invitation (42501)';
REVOKE EXECUTE ON FUNCTION iam.guard_member_reactivation() FROM PUBLIC;
CREATE OR REPLACE TRIGGER company_users_guard_reactivation BEFORE UPDATE ON iam.company_users
    FOR EACH ROW WHEN (NOT OLD.is_active_in_company AND NEW.is_active_in_company)
    EXECUTE FUNCTION iam.guard_member_reactivation();

------------------------------------------------------------------------------
-- What a company's admins read of their members: these fields, of active
-- members only (iam.users itself shows them nobody else's row).
------------------------------------------------------------------------------
CREATE OR REPLACE VIEW iam.company_members WITH (security_invoker = true, security_barrier = true) AS
SELECT cu.company_id, cu.user_id, p.email, p.full_name, cu.role_in_company, cu.joined_at
FROM iam.company_users AS cu
JOIN iam.member_profiles AS p ON p.user_id = cu.user_id
WHERE cu.is_active_in_company
  AND (iam.is_company_admin(cu.company_id)
       OR (SELECT iam.is_service_caller() OR iam.has_any_role('{platform_admin,support_agent}')));
COMMENT ON VIEW iam.company_members IS
    'The active members of the companies the caller administers (every company for platform_admin and support_agent): email, name, role in the company. Runs as the caller: the policies of company_users and member_profiles decide';

CREATE OR REPLACE FUNCTION iam.copy_member_profile() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_copy_member_profile';
COMMENT ON FUNCTION iam.copy_member_profile() IS
    'AFTER INSERT OR UPDATE trigger of users: copies email and full_name into member_profiles, as the extension''s bookkeeping';
REVOKE EXECUTE ON FUNCTION iam.copy_member_profile() FROM PUBLIC;
CREATE OR REPLACE TRIGGER users_copy_member_profile AFTER INSERT OR UPDATE OF email, full_name ON iam.users
    FOR EACH ROW EXECUTE FUNCTION iam.copy_member_profile();

-- Who may read and write what: row level security on every table (the
-- matrix of docs/security.md), the permission a request's API key needs to
-- write iam's tables, and the privileges of the API roles.

------------------------------------------------------------------------------
-- Row level security: the matrix of docs/security.md. One permissive policy
-- per table and command, so that each reads as the whole rule. Checks that
-- do not depend on the row are wrapped in (SELECT ...): the planner then
-- evaluates them once per statement. The service role bypasses RLS
-- (BYPASSRLS on Supabase), as do superusers and the tables' owner.
--   me          (SELECT iam.current_user_id())
--   my_companies (SELECT iam.current_company_ids())::uuid[]: active memberships in
--               active companies
--   admin       holds platform_admin;  reader: platform_admin or support_agent
--   company admin of c: iam.is_company_admin(c), an active membership of c
--               with role_in_company admin (per row: a hash probe)
------------------------------------------------------------------------------
ALTER TABLE iam.roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY roles_select ON iam.roles FOR SELECT USING (true);
CREATE POLICY roles_insert ON iam.roles FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY roles_update ON iam.roles FOR UPDATE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_select ON iam.users FOR SELECT USING (
    id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY users_insert ON iam.users FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY users_update ON iam.users FOR UPDATE USING (
    id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.user_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_roles_select ON iam.user_roles FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY user_roles_insert ON iam.user_roles FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin')) AND user_id IS DISTINCT FROM (SELECT iam.current_user_id()));
CREATE POLICY user_roles_delete ON iam.user_roles FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.companies ENABLE ROW LEVEL SECURITY;
-- An invitee who presented their invitation's token also sees the company
-- it is to: the invitations' own policy admits theirs (the subquery may not
-- name token_hash, which the API roles may not read).
CREATE POLICY companies_select ON iam.companies FOR SELECT USING (
    id = ANY ((SELECT iam.current_company_ids())::uuid[])
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR id IN (SELECT i.company_id FROM iam.company_invitations AS i
              WHERE (SELECT iam.presented_invitation_hash()) IS NOT NULL));
CREATE POLICY companies_insert ON iam.companies FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY companies_update ON iam.companies FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(id));

ALTER TABLE iam.company_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_users_select ON iam.company_users FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR iam.is_company_admin(company_id));
-- The invitee joins (or rejoins) with the role of an invitation they
-- accepted in this very transaction (accepted_at is the transaction's
-- now()), so the token is spent by the same transaction that uses it, and
-- only for a company that is not deleted. Only the holder of its token
-- records an acceptance (the policies of company_invitations).
CREATE POLICY company_users_insert ON iam.company_users FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin'))
    OR (user_id = (SELECT iam.current_user_id()) AND is_active_in_company
        AND EXISTS (SELECT FROM iam.company_invitations AS i
                    WHERE i.accepted_by = company_users.user_id AND i.accepted_at = now()
                      AND i.company_id = company_users.company_id
                      AND i.role_in_company = company_users.role_in_company)
        AND EXISTS (SELECT FROM iam.companies AS c WHERE c.id = company_users.company_id AND NOT c.is_deleted)));
CREATE POLICY company_users_update ON iam.company_users FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(company_id));
CREATE POLICY company_users_accept ON iam.company_users FOR UPDATE
    USING (user_id = (SELECT iam.current_user_id())
           AND EXISTS (SELECT FROM iam.company_invitations AS i
                       WHERE i.accepted_by = company_users.user_id AND i.accepted_at = now()
                         AND i.company_id = company_users.company_id))
    WITH CHECK (user_id = (SELECT iam.current_user_id()) AND is_active_in_company
                AND EXISTS (SELECT FROM iam.company_invitations AS i
                            WHERE i.accepted_by = company_users.user_id AND i.accepted_at = now()
                              AND i.company_id = company_users.company_id
                              AND i.role_in_company = company_users.role_in_company)
                AND EXISTS (SELECT FROM iam.companies AS c
                            WHERE c.id = company_users.company_id AND NOT c.is_deleted));

ALTER TABLE iam.user_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_settings_select ON iam.user_settings FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY user_settings_insert ON iam.user_settings FOR INSERT WITH CHECK (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY user_settings_update ON iam.user_settings FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

-- API keys: the owner's, or the company's for its admins. The secret's hash
-- is kept from the API roles by column privileges (apply_grants).
ALTER TABLE iam.api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_select ON iam.api_keys FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR iam.is_company_admin(company_id));
CREATE POLICY api_keys_insert ON iam.api_keys FOR INSERT WITH CHECK (
    (user_id = (SELECT iam.current_user_id())
     AND (company_id IS NULL OR company_id = ANY ((SELECT iam.current_company_ids())::uuid[])))
    OR (user_id IS NULL AND iam.is_company_admin(company_id)));
CREATE POLICY api_keys_update ON iam.api_keys FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(company_id));
-- The kill switch: whoever presented a key's secret in this transaction
-- (iam.present_api_key, C: backend memory no client can set without the
-- secret) revokes that key, and only that one: while a key is presented,
-- the transaction updates no other key, and none that is revoked already.
CREATE POLICY api_keys_report ON iam.api_keys FOR UPDATE
    USING (id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key))
    WITH CHECK (NOT is_active AND id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key));
CREATE POLICY api_keys_only_the_presented ON iam.api_keys AS RESTRICTIVE FOR UPDATE
    USING ((SELECT iam.presented_api_key_id()) IS NULL
           OR (id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key) AND is_active))
    WITH CHECK ((SELECT iam.presented_api_key_id()) IS NULL
                OR (id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key)));

ALTER TABLE iam.referral_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY referral_codes_select ON iam.referral_codes FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY referral_codes_insert ON iam.referral_codes FOR INSERT WITH CHECK (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY referral_codes_update ON iam.referral_codes FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

-- Referrals: the referrer and the referred user see theirs; a user records
-- their own redemption; only billing (platform_admin, the service role)
-- advances one.
ALTER TABLE iam.referrals ENABLE ROW LEVEL SECURITY;
CREATE POLICY referrals_select ON iam.referrals FOR SELECT USING (
    referrer_user_id = (SELECT iam.current_user_id())
    OR referred_user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY referrals_insert ON iam.referrals FOR INSERT WITH CHECK (
    referred_user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY referrals_update ON iam.referrals FOR UPDATE
    USING ((SELECT iam.has_role('platform_admin')));

-- Invitations: their company's admins see, make and revoke them (the
-- functions of companies.sql); revocation is final.
ALTER TABLE iam.company_invitations ENABLE ROW LEVEL SECURITY;
-- ... and their invitee sees and accepts one once they present its token
-- (iam.present_invitation_token, C: backend memory no client can set without
-- the token, which names no invitation whose inviter no longer administers
-- its company): while it is pending and addressed to them (by user id, or
-- by an email they confirmed, compared ASCII-only as accept_company_invitation
-- explains), or once they accepted it in this transaction.
CREATE POLICY company_invitations_select ON iam.company_invitations FOR SELECT USING (
    iam.is_company_admin(company_id) OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR (id = (SELECT iam.presented_invitation_id()) AND token_hash = (SELECT iam.presented_invitation_hash())
        AND (invited_user_id = (SELECT iam.current_user_id())
             OR invited_email = (SELECT lower(u.email COLLATE "C") FROM iam.users AS u
                                 WHERE u.id = (SELECT iam.current_user_id()) AND u.email_confirmed_at IS NOT NULL))
        AND ((accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now())
             OR (accepted_by = (SELECT iam.current_user_id()) AND accepted_at = now()))));
CREATE POLICY company_invitations_insert ON iam.company_invitations FOR INSERT WITH CHECK (
    iam.is_company_admin(company_id) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY company_invitations_update ON iam.company_invitations FOR UPDATE
    USING (iam.is_company_admin(company_id) OR (SELECT iam.has_role('platform_admin')))
    WITH CHECK (revoked_at IS NOT NULL);
CREATE POLICY company_invitations_accept ON iam.company_invitations FOR UPDATE
    USING (id = (SELECT iam.presented_invitation_id()) AND token_hash = (SELECT iam.presented_invitation_hash())
           AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
           AND (invited_user_id = (SELECT iam.current_user_id())
                OR invited_email = (SELECT lower(u.email COLLATE "C") FROM iam.users AS u
                                    WHERE u.id = (SELECT iam.current_user_id()) AND u.email_confirmed_at IS NOT NULL)))
    WITH CHECK (token_hash = (SELECT iam.presented_invitation_hash())
                AND accepted_by = (SELECT iam.current_user_id()) AND accepted_at = now() AND revoked_at IS NULL);
-- Only the invitee, holding the token, records an acceptance.
CREATE POLICY company_invitations_accepted_by_invitee ON iam.company_invitations AS RESTRICTIVE FOR UPDATE
    USING (true)
    WITH CHECK (accepted_by IS NULL
                OR (accepted_by = (SELECT iam.current_user_id())
                    AND token_hash = (SELECT iam.presented_invitation_hash())));

-- What a company's admins read of their members (iam.company_members): the
-- copy of email and full_name of the users who are active members of a
-- company they administer; the user themselves and the readers.
ALTER TABLE iam.member_profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_profiles_select ON iam.member_profiles FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR EXISTS (SELECT FROM iam.company_users AS cu
               WHERE cu.user_id = member_profiles.user_id AND cu.is_active_in_company
                 AND iam.is_company_admin(cu.company_id)));

ALTER TABLE iam.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON iam.audit_log FOR SELECT
    USING ((SELECT iam.has_role('platform_admin')));

------------------------------------------------------------------------------
-- A request authenticated by an API key writes iam's tables only with the
-- permission "iam:<table>:write" (or "iam:*", or "*").
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.require_key_permission() RETURNS trigger
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
                                      'user_settings', 'api_keys', 'referral_codes', 'referrals',
                                      'company_invitations'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON iam.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION iam.require_key_permission()',
                       table_name || '_key_permission', table_name);
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Privileges of the API roles. RLS decides which rows; these decide which
-- tables and columns. Applied at install for the roles that exist, and again
-- by the operator with SELECT iam.apply_grants() once they are created. A
-- table-level DELETE also lets its holder LOCK the table in any mode, which
-- would stall every role check: the API roles get DELETE only on user_roles,
-- where revoking a role is a delete.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.apply_grants() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
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
        -- The kill switch (iam.report_leaked_api_key): the policies admit
        -- only the key whose secret the transaction presented.
        GRANT UPDATE (is_active) ON iam.api_keys TO anon;
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
                'iam.user_settings, iam.referral_codes, iam.referrals, iam.audit_log, iam.company_members, '
                'iam.member_profiles '
                'TO authenticated',
            'GRANT SELECT (' || invitation_columns || ') ON iam.company_invitations TO authenticated',
            'REVOKE DELETE ON iam.company_invitations FROM authenticated',
            'GRANT INSERT (company_id, invited_email, invited_user_id, role_in_company, token_hash, invited_by, '
                'expires_at), UPDATE (revoked_at, accepted_at, accepted_by) ON iam.company_invitations TO authenticated',
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
                'remaining, refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window, '
                'rate_limit_key_id), UPDATE (name, permissions, expires_at, is_active, key_prefix, hashed_key, remaining, refill_amount, '
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
        -- But TRUNCATE: it fires no row trigger, so it would remove memberships,
        -- role grants and keys past the audit trail and the write rules.
        EXECUTE 'REVOKE TRUNCATE ON ' || client_tables || ' FROM service_role';
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
COMMENT ON FUNCTION iam.apply_grants() IS
    'Grants the Supabase API roles (anon, authenticated, service_role) and the operator what docs/security.md lists, for those that exist; idempotent';
REVOKE EXECUTE ON FUNCTION iam.apply_grants() FROM PUBLIC;
-- Called at the end of supabase.sql, once every object it grants exists.

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

-- enable_auth_sync and disable_auth_sync run as the extension's owner too:
-- on Supabase the operator, postgres, is not a superuser and owns neither
-- auth.users (supabase_auth_admin does) nor the trigger function, so it could
-- neither attach iam.sync_auth_user() to the table nor drop the triggers.
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

