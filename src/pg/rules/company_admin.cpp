// iam.company_admin_remains(company_id, user_id): the read behind the rule
// that a company keeps an admin (iam.keep_a_company_admin in SQL). The
// trigger locks the company's row first, so that changes to its admins take
// turns; the answer must then be about the state that lock admits, not about
// the transaction's snapshot: under REPEATABLE READ and SERIALIZABLE that
// snapshot may be older than the lock, and two admins demoting themselves at
// once would each still see the other. So the read uses the latest
// committed state (and this transaction's own changes), as the caller: RLS
// still decides which memberships it sees, so it tells nobody more than a
// new transaction of theirs would.
#include "pg/boundary/guard.hpp"

#include "pg/platform/spi.hpp"

namespace {

const char* const other_admin =
    "SELECT FROM iam.company_users WHERE company_id = $1 AND user_id <> $2 "
    "AND is_active_in_company AND role_in_company = 'admin' LIMIT 1";

}  // namespace

// iam.company_admin_remains(company_id uuid, user_id uuid) -> boolean
IAM_SQL_FUNCTION(iam_company_admin_remains) {
    Oid types[2] = {UUIDOID, UUIDOID};
    Datum values[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
    uint64 found = iam::pg::pg_call(
        [&] { return iam::pg::execute_as_caller_latest(other_admin, 2, types, values, nullptr); });
    PG_RETURN_BOOL(found > 0);
}
