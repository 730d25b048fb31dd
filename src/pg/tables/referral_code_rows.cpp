// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/referral_code_rows.hpp"

namespace iam::pg {
namespace {
bool copy_referral_code_row(HeapTuple tuple, TupleDesc descriptor, void* context) {
    auto* row = static_cast<ReferralCodeRow*>(context);
    bool is_null;
    row->id = *DatumGetUUIDP(heap_getattr(tuple, attnum::referral_codes_id, descriptor, &is_null));
    row->user_id =
        *DatumGetUUIDP(heap_getattr(tuple, attnum::referral_codes_user_id, descriptor, &is_null));
    Datum active = heap_getattr(tuple, attnum::referral_codes_is_active, descriptor, &is_null);
    row->is_active = !is_null && DatumGetBool(active);
    Datum expires = heap_getattr(tuple, attnum::referral_codes_expires_at, descriptor, &is_null);
    row->has_expiry = !is_null;
    row->expires_at = is_null ? 0 : DatumGetTimestampTz(expires);
    return false;
}
}  // namespace

bool find_referral_code(const IamTables& tables, const char* code, size_t length,
                        ReferralCodeRow* row) {
    text* value = cstring_to_text_with_len(code, static_cast<int>(length));
    ScanKeyData key;
    ScanKeyInit(&key, attnum::referral_codes_code, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(value));
    key.sk_collation = DEFAULT_COLLATION_OID;
    bool found = scan(tables.referral_codes, tables.referral_codes_code_key, &key, 1,
                      copy_referral_code_row, row);
    pfree(value);
    return found;
}

bool find_referral_code_by_id(const IamTables& tables, const pg_uuid_t& id, ReferralCodeRow* row) {
    ScanKeyData key;
    uuid_key(&key, attnum::referral_codes_id, id);
    return scan(tables.referral_codes, tables.referral_codes_pkey, &key, 1, copy_referral_code_row,
                row);
}

}  // namespace iam::pg
