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
