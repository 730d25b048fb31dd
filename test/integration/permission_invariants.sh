#!/usr/bin/env bash
# The permission invariant suite: the rules of the permission model (who
# may grant what; nobody gives more than they hold; iam.can() answers as the
# tables say) stated as invariants, and random writes to the model hunting
# for a break.
#   paths       the functions (iam.assign_company_role, remove_company_role,
#               grant_role, revoke_role, set_company_role, set_company_status,
#               add_company_member); plain SQL INSERT/UPDATE/DELETE on
#               iam.permissions, role_permissions, company_roles,
#               company_role_permissions, company_member_roles, user_roles,
#               company_users, companies and api_keys; as a PostgREST request
#               (role, JWT claims, request.headers, iam.authenticate_request())
#               or a plain SQL client, with row_security on and off; from a
#               SECURITY DEFINER function of the tables' owner called by the
#               caller
#   actors      anon, members, company admins, a holder of iam:roles:manage
#               through a custom role, platform admins, a support agent,
#               users' keys (narrow, wide, bound to a company), companies'
#               keys, the service role, the operator
#   attempts    a company admin giving a role more than they hold after the
#               platform narrows the admin template, a custom role smuggling
#               '*', members assigning themselves roles, keys minting roles,
#               a role of one company assigned in another, roles renamed or
#               moved into another company, company_member_roles.company_role_id
#               updated
#   isolation   READ COMMITTED, REPEATABLE READ, SERIALIZABLE, three sessions
#               at once
#   invariants  permission_invariants_checks.sql, after every batch: (a)
#               iam.can(p, c) and iam.can(p) of every identity (each person,
#               anon, the service role, every key) for every registered
#               permission and company agree with plain SQL over the tables;
#               (b) a member's extra role is a template or a role of that
#               company, never member or admin, and a company's role never
#               takes a template's name; (c) whoever is not the service role
#               or the operator gave only what they held just before; (d)
#               every change to the model's five tables has its audit row;
#               (e) a refused write changed nothing
# The driver (permission_invariants.py) prints its seed first and on
# failure; IAM_PERMISSION_SEED=<seed> replays the same operations
# (concurrent sessions may interleave otherwise), IAM_PERMISSION_OPS sets how
# many (default 600); IAM_PERMISSION_KEEP=1 with IAM_PERMISSION_LOGS keeps the database. A violation prints the invariant, the operation (kind,
# actor, path, isolation) and the rows that break it, and the suite fails.
# server options: -c shared_preload_libraries=iam_ext
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_permission_invariants
owner=iam_db_owner
source "$here/../lib.sh"
source "$here/../fixtures/postgrest_requests.sh"
# Each session's psql output (IAM_PERMISSION_LOGS keeps it in a folder of yours).
logs=${IAM_PERMISSION_LOGS:-}
if [ -z "$logs" ]; then
    logs=$(mktemp -d /tmp/iam_permission_invariants.XXXXXX)
    trap 'dropdb --if-exists "$db" 2>/dev/null || true; rm -rf "$logs"' EXIT
else
    mkdir -p "$logs" && rm -f "$logs"/permission_invariants.*.log
    trap '[ -n "${IAM_PERMISSION_KEEP:-}" ] || dropdb --if-exists "$db" 2>/dev/null || true' EXIT
fi

echo "setup: Supabase's roles and authenticator; a database owner who is not a superuser installs iam_ext"
create_supabase_database
sql -U "$owner" -d "$db" -o /dev/null -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION iam_ext' \
    -f "$here/../fixtures/people.sql"
sql -d "$db" -o /dev/null -f "$here/permission_invariants.sql" -c "GRANT CREATE ON SCHEMA pinv TO $owner"
# Code running as the tables' owner on a caller's behalf: a SECURITY DEFINER
# function of the owner's that runs the statement it is given.
sql -U "$owner" -d "$db" -o /dev/null <<'SQL'
CREATE FUNCTION pinv.as_owner(statement text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE statement;
END
$$;
GRANT EXECUTE ON FUNCTION pinv.as_owner(text) TO PUBLIC;
SQL

IAM_DB=$db IAM_OWNER=$owner IAM_PERMISSION_LOGS=$logs python3 "$here/permission_invariants.py"
