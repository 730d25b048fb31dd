#!/usr/bin/env bash
# The invariant suite: where the adversarial suite tries examples, this one
# states what must always hold and drives many random operations through
# every path, then checks it all by plain SQL as the superuser.
#   paths       the functions; PostgREST-shaped requests (role, JWT claims,
#               request.headers, iam.authenticate_request()) as anon,
#               authenticated and service_role; plain SQL as those roles with
#               row_security on and off; the operator (the database owner
#               who installed iam_ext); API keys of every kind (narrow, with
#               iam:api_keys:write, metered with credits and a rate limit, a
#               company's) presented in request.headers
#   isolation   READ COMMITTED, REPEATABLE READ, SERIALIZABLE
#   concurrency a few sessions at once, and admins demoting themselves in
#               snapshots taken before any of them commits
#   sign-ups    GoTrue (auth.users, synced to iam.users) signs newcomers up,
#               some never confirming the address they were invited at
#   invariants  test/integration/invariants_checks.sql: no role, membership,
#               company role or key scope wider than the actor holds; credits
#               spent across the keys derived from a sale at most those
#               granted plus the refills due; no change to an audited table
#               without its audit row; a company keeps an admin unless the
#               platform acts; a revoked or reported key never verifies
#               again; a check answers as the plain SQL it stands for, NULLs
#               included, in WHERE and in the select list; no API role holds
#               a lock on iam's tables that stalls the checks
# The driver (invariants.py) prints its seed first and on failure;
# IAM_INVARIANT_SEED=<seed> replays the same operations (concurrent sessions
# may interleave otherwise), IAM_INVARIANT_OPS sets how many (default 1000).
# A violation prints the invariant, the operation (kind, actor, path,
# isolation) and the rows that break it, and the suite fails.
# server options: -c shared_preload_libraries=iam_ext
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_invariants
owner=iam_db_owner
source "$here/../lib.sh"
source "$here/../fixtures/postgrest_requests.sh"
# Each session's psql output (IAM_INVARIANT_LOGS keeps it in a folder of yours).
logs=${IAM_INVARIANT_LOGS:-}
if [ -z "$logs" ]; then
    logs=$(mktemp -d /tmp/iam_invariants.XXXXXX)
    trap 'dropdb --if-exists "$db" 2>/dev/null || true; rm -rf "$logs"' EXIT
else
    mkdir -p "$logs" && rm -f "$logs"/invariants.*.log
    trap 'dropdb --if-exists "$db" 2>/dev/null || true' EXIT
fi

echo "setup: Supabase's roles and authenticator; a database owner who is not a superuser installs iam_ext"
create_supabase_database
sql -U "$owner" -d "$db" -o /dev/null -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION iam_ext' \
    -f "$here/../fixtures/people.sql"
# Supabase Auth's users table, synced to iam.users: GoTrue signs newcomers up.
sql -d "$db" -o /dev/null <<SQL
SET client_min_messages = warning;
\ir $here/../fixtures/supabase_auth.sql
SELECT iam.enable_auth_sync();
SQL
sql -d postgres -o /dev/null -c "ALTER ROLE supabase_auth_admin PASSWORD '$PGPASSWORD'"
sql -d "$db" -o /dev/null -f "$here/invariants.sql"

IAM_DB=$db IAM_OWNER=$owner IAM_INVARIANT_LOGS=$logs python3 "$here/invariants.py"
