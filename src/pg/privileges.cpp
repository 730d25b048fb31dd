#include "privileges.hpp"

#include "guard.hpp"

namespace iam::pg {

bool caller_is_service() {
    Oid caller = GetUserId();
    if (superuser_arg(caller))
        return true;
    Oid service_role = get_role_oid("service_role", true);
    return OidIsValid(service_role) && has_privs_of_role(caller, service_role);
}

}  // namespace iam::pg

// iam.is_service_caller() -> boolean
IAM_SQL_FUNCTION(iam_is_service_caller) {
    PG_RETURN_BOOL(iam::pg::caller_is_service());
}
