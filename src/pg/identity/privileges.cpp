// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/identity/privileges.hpp"

#include "pg/boundary/guard.hpp"

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

}  // namespace

bool caller_is_service() {
    Oid caller = GetUserId();
    if (superuser_arg(caller))
        return true;
    Oid service_role = get_role_oid("service_role", true);
    return OidIsValid(service_role) && has_privs_of_role(caller, service_role);
}

bool caller_is_operator() {
    Oid caller = GetUserId();
    if (superuser_arg(caller))
        return true;
    Oid owner = extension_owner();
    return OidIsValid(owner) && has_privs_of_role(caller, owner);
}

bool is_restore(Relation relation) {
    return !row_security && (superuser() || GetUserId() == relation->rd_rel->relowner);
}

}  // namespace iam::pg

// iam.is_service_caller() -> boolean
IAM_SQL_FUNCTION(iam_is_service_caller) {
    PG_RETURN_BOOL(iam::pg::caller_is_service());
}
