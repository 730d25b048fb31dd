// What iam.can() reads of the permission model's definitions, remembered by
// the backend (src/pg/tables/model_cache.cpp): which permissions the
// catalogue holds, and the grants of each platform and company role. Every
// statement of a request would otherwise open iam.permissions,
// role_permissions and company_role_permissions again for rows that change
// rarely; who holds which role (user_roles, company_member_roles,
// company_users) is still read by every statement.
//
// Read under the latest committed state, and forgotten when an
// invalidation reaches one of the three tables: every change to them sends
// one (the row trigger iam.model_changed, fired on logical replication's
// apply too), which every backend takes in before it answers from here. A
// rollback forgets too. A transaction that a change reached (its own or
// another's) is not answered from here until it ends, nor is a parallel
// operation (no snapshot can be taken there): the readers of
// permission_rows.hpp answer under the statement's snapshot instead, so a
// cursor, a REPEATABLE READ snapshot and the rest of a statement that
// changed a grant each see the definitions their snapshot does. The rules
// of who may grant what never read from here.
#pragma once

#include "pg/tables/permission_rows.hpp"

namespace iam::pg {

// permission_is_registered, remembered.
bool permission_is_known(const IamTables& tables, const text* name);

// role_grant_matches, the role's grants remembered.
bool remembered_grant_matches(const IamTables& tables, RoleKind kind, const pg_uuid_t& role_id,
                              bool (*matches)(const char* grant, int length, void* context),
                              void* context);

}  // namespace iam::pg
