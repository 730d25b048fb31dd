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
