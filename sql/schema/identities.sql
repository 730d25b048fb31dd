-- Subjects of other identity providers (docs/roles.md, "Identity
-- providers"): a JWT whose "sub" is not a UUID names the user
-- iam.external_identities maps (issuer, subject) to, when
-- iam.external_subjects is on. The lookup is the C code's, once per change
-- of the claims (src/pg/identity/context.cpp); these are its trigger and the
-- functions that write the mapping, which run as the caller.

CREATE OR REPLACE FUNCTION iam.external_identities_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_external_identities_changed';
COMMENT ON FUNCTION iam.external_identities_changed() IS
    'AFTER trigger of external_identities: the subject this backend resolved from the claims is read again at its next use, and every backend forgets the subjects it remembered';
REVOKE EXECUTE ON FUNCTION iam.external_identities_changed() FROM PUBLIC;
-- A row trigger, enabled ALWAYS: logical replication's apply (a Citus
-- worker's copy of the table) fires it too, where it fires no statement
-- trigger. A TRUNCATE gives the table a new file, which invalidates it.
CREATE OR REPLACE TRIGGER external_identities_changed
    AFTER INSERT OR UPDATE OR DELETE ON iam.external_identities
    FOR EACH ROW EXECUTE FUNCTION iam.external_identities_changed();
ALTER TABLE iam.external_identities ENABLE ALWAYS TRIGGER external_identities_changed;

CREATE OR REPLACE FUNCTION iam.link_external_identity(issuer text, subject text, user_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    linked_to uuid;
    is_uuid boolean;
BEGIN
    -- What a JWT can carry and the lookup can match. A subject that reads as
    -- a UUID is never looked up (it is the iam user id itself), so a mapping
    -- of one would never be used.
    IF issuer IS NULL OR issuer = '' OR octet_length(issuer) > 1024 THEN
        RAISE EXCEPTION 'issuer must be 1 to 1024 bytes: the provider as the JWT''s issuer claim spells it'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For Auth0, e.g. https://example.auth0.com/ (with its trailing slash); see iam.jwt_issuer_claim.';
    END IF;
    IF subject IS NULL OR subject = '' OR octet_length(subject) > 1024 THEN
        RAISE EXCEPTION 'subject must be 1 to 1024 bytes: the JWT''s "sub" as the provider spells it'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        PERFORM subject::uuid;
        is_uuid := true;
    EXCEPTION WHEN invalid_text_representation THEN
        is_uuid := false;
    END;
    IF is_uuid THEN
        RAISE EXCEPTION 'subject % is a UUID: such a "sub" is the iam user id itself and is never looked up', subject
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Create the iam user with that id instead.';
    END IF;
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must name an iam user' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Linking decides who a token is, as minting a session would: the
    -- backend's business (the service role) and the operator's. A platform
    -- admin who could link a subject they hold to someone else would act as
    -- them (docs/security.md: admins revoke, never impersonate).
    IF NOT iam.is_service_caller() AND NOT iam.is_operator_session() THEN
        RAISE EXCEPTION 'only the service role links an external identity to a user'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Call it from your backend as service_role, once it has verified the user with the provider.';
    END IF;
    IF NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = link_external_identity.user_id) THEN
        RAISE EXCEPTION 'no user %', user_id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Create the iam.users row first.';
    END IF;
    SELECT e.user_id INTO linked_to FROM iam.external_identities AS e
    WHERE e.issuer = link_external_identity.issuer AND e.subject = link_external_identity.subject
    FOR UPDATE;
    IF linked_to = user_id THEN
        RETURN false;
    ELSIF linked_to IS NOT NULL THEN
        RAISE EXCEPTION 'subject % of % is linked to another user', subject, issuer
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Unlink it first (iam.unlink_external_identity), if it has changed hands.';
    END IF;
    INSERT INTO iam.external_identities AS e (issuer, subject, user_id)
    VALUES (link_external_identity.issuer, link_external_identity.subject, link_external_identity.user_id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION iam.link_external_identity(text, text, uuid) IS
    'Maps a subject of another identity provider (issuer, JWT "sub") to an iam user; true if it was not mapped yet, false if it was, to that user. Service role and operator only; bad input 22023';
REVOKE EXECUTE ON FUNCTION iam.link_external_identity(text, text, uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION iam.unlink_external_identity(issuer text, subject text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    removed integer;
BEGIN
    IF issuer IS NULL OR subject IS NULL THEN
        RAISE EXCEPTION 'issuer and subject must be given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT iam.is_service_caller() AND NOT iam.is_operator_session() AND NOT iam.has_role('platform_admin') THEN
        RAISE EXCEPTION 'only the service role and platform admins unlink an external identity'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM iam.external_identities AS e
    WHERE e.issuer = unlink_external_identity.issuer AND e.subject = unlink_external_identity.subject;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed > 0;
END
$$;
COMMENT ON FUNCTION iam.unlink_external_identity(text, text) IS
    'Removes the mapping of a subject of another identity provider; true if there was one. Its tokens then name nobody (or, with iam.external_subjects = provision, a new user). Service role, operator and platform_admin';
REVOKE EXECUTE ON FUNCTION iam.unlink_external_identity(text, text) FROM PUBLIC;
