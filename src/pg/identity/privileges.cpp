// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/identity/privileges.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/platform/spi.hpp"

namespace iam::pg {
namespace {

// The owner of extension iam_ext; InvalidOid if it is not installed.
Oid extension_owner() {
    Oid extension = get_extension_oid("iam_ext", true);
    if (!OidIsValid(extension))
        return InvalidOid;
    Relation catalog = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(extension));
    SysScanDesc scan = systable_beginscan(catalog, ExtensionOidIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    Oid owner = HeapTupleIsValid(tuple)
                    ? reinterpret_cast<Form_pg_extension>(GETSTRUCT(tuple))->extowner
                    : InvalidOid;
    systable_endscan(scan);
    table_close(catalog, AccessShareLock);
    return owner;
}

bool is_service(Oid role) {
    if (superuser_arg(role))
        return true;
    Oid service_role = get_role_oid("service_role", true);
    return OidIsValid(service_role) && has_privs_of_role(role, service_role);
}

bool is_operator(Oid role) {
    if (superuser_arg(role))
        return true;
    Oid owner = extension_owner();
    return OidIsValid(owner) && has_privs_of_role(role, owner);
}

}  // namespace

bool caller_is_service() {
    return is_service(GetUserId());
}

// The outer user is the session user, or the role it SET ROLE to; a
// SECURITY DEFINER function, and the extension's statements as the tables'
// owner, change the current user but never the outer one.
bool session_is_service() {
    return is_service(GetOuterUserId());
}

bool session_is_operator() {
    return is_operator(GetOuterUserId());
}

bool stands_above_rules() {
    return running_own_bookkeeping() || session_is_operator();
}

bool is_restore(Relation) {
    return !row_security && !running_own_bookkeeping() && session_is_operator();
}

}  // namespace iam::pg

// iam.is_service_caller() -> boolean: asked of who is in the session, so
// that the checks and triggers written with it hold for a SECURITY DEFINER
// function on a caller's behalf as for the caller.
IAM_SQL_FUNCTION(iam_is_service_caller) {
    PG_RETURN_BOOL(iam::pg::session_is_service());
}

// iam.is_operator_session() -> boolean: whether the operator is in the
// session, for the rules written in SQL that the operator stands above.
IAM_SQL_FUNCTION(iam_is_operator_session) {
    PG_RETURN_BOOL(iam::pg::session_is_operator());
}
