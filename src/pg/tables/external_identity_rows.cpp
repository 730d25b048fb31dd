// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/external_identity_rows.hpp"

namespace iam::pg {

bool external_identity_user(const IamTables& tables, const char* issuer, size_t issuer_length,
                            const char* subject, size_t subject_length, pg_uuid_t* user_id,
                            Snapshot snapshot) {
    if (!OidIsValid(tables.external_identities))
        return false;
    text* issuer_text = cstring_to_text_with_len(issuer, static_cast<int>(issuer_length));
    text* subject_text = cstring_to_text_with_len(subject, static_cast<int>(subject_length));
    // The columns are COLLATE "C": equality is byte equality, as the
    // provider spells its ids.
    ScanKeyData keys[2];
    ScanKeyEntryInitialize(&keys[0], 0, attnum::external_identities_issuer, BTEqualStrategyNumber,
                           InvalidOid, C_COLLATION_OID, F_TEXTEQ, PointerGetDatum(issuer_text));
    ScanKeyEntryInitialize(&keys[1], 0, attnum::external_identities_subject, BTEqualStrategyNumber,
                           InvalidOid, C_COLLATION_OID, F_TEXTEQ, PointerGetDatum(subject_text));
    struct Found {
        bool has_user;
        pg_uuid_t user_id;
    } found{false, {}};
    scan(
        tables.external_identities, tables.external_identities_pkey, keys, 2,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* f = static_cast<Found*>(context);
            f->has_user = copy_uuid_attribute(tuple, descriptor,
                                              attnum::external_identities_user_id, &f->user_id);
            return false;
        },
        &found, snapshot);
    pfree(issuer_text);
    pfree(subject_text);
    if (found.has_user)
        *user_id = found.user_id;
    return found.has_user;
}

}  // namespace iam::pg
