// What the write rules share (src/pg/rules/write_rules.hpp).
#include "pg/rules/write_rules.hpp"

#include "pg/identity/context.hpp"
#include "pg/tables/role_rows.hpp"

namespace iam::pg {

bool caller_is_platform_admin() {
    SubjectCache subject{};
    const pg_uuid_t* caller = current_subject(&subject);
    if (caller == nullptr)
        return false;
    IamTables tables;
    resolve_iam_tables(&tables);
    return user_holds_named_role(tables, *caller, "platform_admin");
}

}  // namespace iam::pg
