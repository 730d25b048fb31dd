// The permission checks (src/pg/checks/permission_checks.cpp): iam.can()
// per row, and what the rules of who may grant what ask of the caller.
#pragma once

#include "pg/tables/iam_tables.hpp"

#include <string_view>

namespace iam::pg {

// Whether the caller holds `wanted` (a permission, or a grant such as
// `courses:*` when the question is whether they may give it), without a
// company (company_id nullptr: their platform roles only) or in a company
// (also the company roles they hold there, while they are an active member
// of the active company). In a request authenticated by an API key, within
// the key's scope (and its company); for a company's own key, the key's
// scope in its company. A session of the service role or of the operator
// with no user and no key holds everything. Plain C style: PostgreSQL's
// errors may unwind through it.
bool caller_holds(const IamTables& tables, std::string_view wanted, const pg_uuid_t* company_id);

}  // namespace iam::pg
