-- Tenancy: who administers a company (company_users.role_in_company), how
-- people join one (invitations, accepted by the invitee with a single-use
-- token), the rule that a company keeps an admin, and what its admins may
-- read of their members.

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
