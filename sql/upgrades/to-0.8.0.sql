-- The hand-written part of the upgrade from 0.7.0 to 0.8.0: what changes in
-- the tables (columns, constraints, indexes, data) and what goes away.
-- make appends the rest: every function, trigger, policy and view as
-- sql/schema/ defines it now (docs/development.md, "Changing SQL").

-- Subjects of other identity providers (Auth0, Clerk, ...): which iam user
-- each is. Created here as sql/schema/tables.sql creates it.
CREATE TABLE iam.external_identities (
    issuer     text COLLATE "C" NOT NULL
        CONSTRAINT external_identities_issuer_check CHECK (issuer <> '' AND octet_length(issuer) <= 1024),
    subject    text COLLATE "C" NOT NULL
        CONSTRAINT external_identities_subject_check CHECK (subject <> '' AND octet_length(subject) <= 1024),
    user_id    uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT external_identities_pkey PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_user_id_idx ON iam.external_identities (user_id);
COMMENT ON TABLE iam.external_identities IS
    'Which iam user a subject of another identity provider is: read by iam.current_user_id() for a JWT "sub" that is not a UUID (iam.external_subjects); written by the service role (iam.link_external_identity) or on first sight';
COMMENT ON COLUMN iam.external_identities.issuer IS
    'The provider, as the JWT claim iam.jwt_issuer_claim ("iss" by default) spells it, byte for byte (e.g. https://example.auth0.com/)';
COMMENT ON COLUMN iam.external_identities.subject IS
    'The provider''s id of the user: the JWT "sub", byte for byte (e.g. auth0|6553da60a54af58e29493993, user_2NNEqL2nrIRdJ194ndJqAHwEfxC)';
COMMENT ON COLUMN iam.external_identities.user_id IS 'The iam user that subject is';
COMMENT ON COLUMN iam.external_identities.created_at IS 'When the mapping was made';
SELECT pg_catalog.pg_extension_config_dump('iam.external_identities', '');

-- Its changes are audited: three more actions.
ALTER TABLE iam.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE iam.audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'role_granted', 'role_revoked', 'role_changed',
        'member_added', 'member_removed', 'member_reactivated', 'member_role_changed', 'member_updated',
        'member_deleted',
        'catalog_role_created', 'catalog_role_changed', 'catalog_role_deleted',
        'api_key_created', 'api_key_rotated', 'api_key_revoked', 'api_key_reactivated',
        'api_key_changed', 'api_key_deleted',
        'invitation_created', 'invitation_accepted', 'invitation_revoked', 'invitation_changed',
        'invitation_deleted',
        'identity_linked', 'identity_unlinked', 'identity_changed'));
COMMENT ON COLUMN iam.audit_log.action IS
    'role_* on user_roles; member_* on company_users; catalog_role_* on roles; api_key_* on api_keys; invitation_* on company_invitations; identity_* on external_identities';
