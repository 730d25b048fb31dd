-- iam_ext 0.1.0 -> 0.2.0: the identity context and the role and company
-- checks, in C++ (src/pg/context.cpp, src/pg/roles.cpp).

\echo Use "ALTER EXTENSION iam_ext UPDATE TO '0.2.0'" to load this file. \quit

-- Policies are evaluated as the querying role, so these run as the caller
-- (no SECURITY DEFINER) and are executable by everyone; the C code reads
-- iam.user_roles, iam.company_users and iam.companies through their indexes
-- for the answer it returns, whatever the caller may select.

CREATE FUNCTION iam.current_user_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_user_id';
COMMENT ON FUNCTION iam.current_user_id() IS
    'The calling user: request.jwt.claim.sub, else request.jwt.claims ->> ''sub'' (as auth.uid()); NULL if none or not a UUID';

CREATE FUNCTION iam.has_role(role_name text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_role_current';
COMMENT ON FUNCTION iam.has_role(text) IS
    'Whether the current user holds the role; an unknown role is an error (42704)';

CREATE FUNCTION iam.has_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_role';
COMMENT ON FUNCTION iam.has_role(uuid, text) IS
    'Whether the user holds the role (false for a NULL user); an unknown role is an error (42704)';

CREATE FUNCTION iam.has_any_role(role_names text[]) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_any_role';
COMMENT ON FUNCTION iam.has_any_role(text[]) IS
    'Whether the current user holds any of the roles; NULL elements are ignored, an unknown role is an error (42704)';

CREATE FUNCTION iam.roles_of(user_id uuid DEFAULT iam.current_user_id()) RETURNS text[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_roles_of';
COMMENT ON FUNCTION iam.roles_of(uuid) IS
    'The names of the roles the user holds, sorted; empty for a NULL user';

CREATE FUNCTION iam.is_company_member(company_id uuid, user_id uuid DEFAULT iam.current_user_id())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_company_member';
COMMENT ON FUNCTION iam.is_company_member(uuid, uuid) IS
    'Whether the user is active in the company and the company is active and not deleted';

CREATE FUNCTION iam.is_company_admin(company_id uuid, user_id uuid DEFAULT iam.current_user_id())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_company_admin';
COMMENT ON FUNCTION iam.is_company_admin(uuid, uuid) IS
    'Whether the user is a member of the company (see is_company_member) holding role enterprise_admin';

CREATE FUNCTION iam.current_company_ids() RETURNS uuid[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_company_ids';
COMMENT ON FUNCTION iam.current_company_ids() IS
    'The active companies the current user is an active member of, for company_id = ANY (...) policies';
