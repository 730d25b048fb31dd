-- The hand-written part of the upgrade from 0.7.0 to 0.8.0: what changes in
-- the tables (columns, constraints, indexes, data) and what goes away.
-- make appends the rest: every function, trigger, policy and view as
-- sql/schema/ defines it now (docs/development.md, "Changing SQL").
--
-- 0.8.0: permissions for the application's own tables: a catalogue of
-- permissions, platform roles and company roles that carry them, several
-- company roles per member, and iam.can() to check them.

------------------------------------------------------------------------------
-- Permissions (0.8.0): the application's permission catalogue, the
-- permissions platform roles carry, company roles (templates available in
-- every company, and a company's own), their permissions, and the company
-- roles each member holds beyond role_in_company. iam.can() answers from
-- them (docs/permissions.md).
------------------------------------------------------------------------------
-- A permission is 1 to 200 printable ASCII characters without spaces; a
-- registered one never holds '*'. A grant (a role's permission, a key's
-- scope) is a registered permission, 'resource:*' (every permission that
-- starts with 'resource:') or '*' (every permission).
CREATE TABLE iam.permissions (
    name        text PRIMARY KEY
        CONSTRAINT permissions_name_check CHECK (name ~ '^[!-)+-~]{1,200}$'),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE iam.permissions IS
    'The permissions the application checks with iam.can(): asking for one that is not here is an error (42704)';
COMMENT ON COLUMN iam.permissions.name IS 'e.g. courses:read; printable ASCII, no spaces, no *, at most 200 characters';
COMMENT ON COLUMN iam.permissions.description IS 'What holding the permission allows';
COMMENT ON COLUMN iam.permissions.created_at IS 'When the permission was registered';
INSERT INTO iam.permissions (name, description, created_at) VALUES
    ('iam:roles:manage', 'Define the company''s own roles, their permissions, and which members hold them',
     '2026-12-06 00:00:00+00');

CREATE TABLE iam.role_permissions (
    role_id    uuid NOT NULL REFERENCES iam.roles (id) ON DELETE CASCADE,
    permission text NOT NULL
        CONSTRAINT role_permissions_permission_check CHECK (permission ~ '^([!-)+-~]{1,200}|\*|[!-)+-~]{0,198}:\*)$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_id, permission)
);
COMMENT ON TABLE iam.role_permissions IS
    'What each platform role grants, everywhere: a registered permission, resource:* or *';
COMMENT ON COLUMN iam.role_permissions.role_id IS 'The platform role';
COMMENT ON COLUMN iam.role_permissions.permission IS 'The permission granted: a registered one, resource:* or *';
COMMENT ON COLUMN iam.role_permissions.created_at IS 'When it was granted';
INSERT INTO iam.role_permissions (role_id, permission, created_at)
VALUES ('00000000-0000-4000-8000-000000000007', '*', '2026-12-06 00:00:00+00');

CREATE TABLE iam.company_roles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id  uuid REFERENCES iam.companies (id) ON DELETE CASCADE,
    name        varchar NOT NULL
        CONSTRAINT company_roles_name_check CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT company_roles_company_id_name_key UNIQUE NULLS NOT DISTINCT (company_id, name)
);
CREATE INDEX company_roles_name_idx ON iam.company_roles (name);
COMMENT ON TABLE iam.company_roles IS
    'Roles within a company: templates (company_id NULL) exist in every company, the others in theirs; member and admin are the templates role_in_company names';
COMMENT ON COLUMN iam.company_roles.id IS 'Company role id; the templates member and admin have fixed ids';
COMMENT ON COLUMN iam.company_roles.company_id IS 'The company whose own role this is; NULL for a template available in every company';
COMMENT ON COLUMN iam.company_roles.name IS 'e.g. instructor, learner; lower case, unique within the company and among the templates';
COMMENT ON COLUMN iam.company_roles.description IS 'What holding the role allows';
COMMENT ON COLUMN iam.company_roles.created_at IS 'When the role was defined';
INSERT INTO iam.company_roles (id, company_id, name, description, created_at) VALUES
    ('00000000-0000-4000-8000-000000000101', NULL, 'member',
     'Every active member of a company (role_in_company member or admin)', '2026-12-06 00:00:00+00'),
    ('00000000-0000-4000-8000-000000000102', NULL, 'admin',
     'The company''s admins (role_in_company admin)', '2026-12-06 00:00:00+00');

CREATE TABLE iam.company_role_permissions (
    company_role_id uuid NOT NULL REFERENCES iam.company_roles (id) ON DELETE CASCADE,
    permission      text NOT NULL
        CONSTRAINT company_role_permissions_permission_check
        CHECK (permission ~ '^([!-)+-~]{1,200}|\*|[!-)+-~]{0,198}:\*)$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_role_id, permission)
);
COMMENT ON TABLE iam.company_role_permissions IS
    'What each company role grants, in the company where it is held';
COMMENT ON COLUMN iam.company_role_permissions.company_role_id IS 'The company role';
COMMENT ON COLUMN iam.company_role_permissions.permission IS 'The permission granted: a registered one, resource:* or *';
COMMENT ON COLUMN iam.company_role_permissions.created_at IS 'When it was granted';
INSERT INTO iam.company_role_permissions (company_role_id, permission, created_at)
VALUES ('00000000-0000-4000-8000-000000000102', '*', '2026-12-06 00:00:00+00');

CREATE TABLE iam.company_member_roles (
    user_id         uuid NOT NULL,
    company_id      uuid NOT NULL,
    company_role_id uuid NOT NULL REFERENCES iam.company_roles (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, company_id, company_role_id),
    CONSTRAINT company_member_roles_membership_fkey FOREIGN KEY (user_id, company_id)
        REFERENCES iam.company_users (user_id, company_id) ON DELETE CASCADE
);
CREATE INDEX company_member_roles_company_role_id_idx ON iam.company_member_roles (company_role_id);
COMMENT ON TABLE iam.company_member_roles IS
    'The company roles a member holds beyond role_in_company, in that company only (while the membership is active)';
COMMENT ON COLUMN iam.company_member_roles.user_id IS 'The member';
COMMENT ON COLUMN iam.company_member_roles.company_id IS 'The company';
COMMENT ON COLUMN iam.company_member_roles.company_role_id IS 'A template or a role of this company; not member or admin';
COMMENT ON COLUMN iam.company_member_roles.created_at IS 'When the role was assigned';

SELECT pg_catalog.pg_extension_config_dump('iam.company_invitations', '');
SELECT pg_catalog.pg_extension_config_dump('iam.permissions', $$WHERE name <> 'iam:roles:manage'$$);
SELECT pg_catalog.pg_extension_config_dump('iam.role_permissions',
    $$WHERE (role_id, permission) <> ('00000000-0000-4000-8000-000000000007', '*')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.company_roles',
    $$WHERE id NOT IN ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000102')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.company_role_permissions',
    $$WHERE (company_role_id, permission) <> ('00000000-0000-4000-8000-000000000102', '*')$$);
SELECT pg_catalog.pg_extension_config_dump('iam.company_member_roles', '');

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

-- The audit trail names the changes to the new tables.
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
        'permission_registered', 'permission_changed', 'permission_deleted',
        'role_permission_granted', 'role_permission_revoked', 'role_permission_changed',
        'company_role_created', 'company_role_changed', 'company_role_deleted',
        'member_role_assigned', 'member_role_removed', 'member_role_reassigned',
        'identity_linked', 'identity_unlinked', 'identity_changed'));
COMMENT ON COLUMN iam.audit_log.action IS
    'role_granted/revoked/changed on user_roles; member_* on company_users (member_role_assigned/removed/reassigned on company_member_roles); catalog_role_* on roles; api_key_* on api_keys; invitation_* on company_invitations; permission_* on permissions; role_permission_* on role_permissions and company_role_permissions; company_role_* on company_roles; identity_* on external_identities';
