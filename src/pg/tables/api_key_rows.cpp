// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/api_key_rows.hpp"

#include "pg/tables/membership_rows.hpp"

#include <algorithm>

namespace iam::pg {
namespace {
// The attributes verification reads: 1 .. api_keys_rate_limit_key_id, or
// fewer in a database not yet updated to 0.7.0.
AttrNumber api_key_attributes(TupleDesc descriptor) {
    return std::min<AttrNumber>(descriptor->natts, attnum::api_keys_rate_limit_key_id);
}

// From the row's first `count` attributes, deformed in one pass.
void copy_api_key_values(const Datum* values, const bool* nulls, AttrNumber count, ApiKeyRow* row) {
    auto value = [values](AttrNumber number) { return values[number - 1]; };
    auto is_null = [nulls, count](AttrNumber number) {
        return number > count || nulls[number - 1];
    };
    row->id = *DatumGetUUIDP(value(attnum::api_keys_id));
    row->has_user = !is_null(attnum::api_keys_user_id);
    if (row->has_user)
        row->user_id = *DatumGetUUIDP(value(attnum::api_keys_user_id));
    row->has_company = !is_null(attnum::api_keys_company_id);
    if (row->has_company)
        row->company_id = *DatumGetUUIDP(value(attnum::api_keys_company_id));
    row->hashed_key = is_null(attnum::api_keys_hashed_key)
                          ? nullptr
                          : DatumGetTextPCopy(value(attnum::api_keys_hashed_key));
    row->permissions = is_null(attnum::api_keys_permissions)
                           ? nullptr
                           : DatumGetJsonbPCopy(value(attnum::api_keys_permissions));
    row->has_expiry = !is_null(attnum::api_keys_expires_at);
    row->expires_at = row->has_expiry ? DatumGetTimestampTz(value(attnum::api_keys_expires_at)) : 0;
    row->has_last_use = !is_null(attnum::api_keys_last_used_at);
    row->last_used_at =
        row->has_last_use ? DatumGetTimestampTz(value(attnum::api_keys_last_used_at)) : 0;
    row->is_active =
        !is_null(attnum::api_keys_is_active) && DatumGetBool(value(attnum::api_keys_is_active));
    row->is_suspended_ever = !is_null(attnum::api_keys_suspended_until);
    row->suspended_until =
        row->is_suspended_ever ? DatumGetTimestampTz(value(attnum::api_keys_suspended_until)) : 0;
    row->has_credits = !is_null(attnum::api_keys_remaining);
    row->remaining = row->has_credits ? DatumGetInt32(value(attnum::api_keys_remaining)) : 0;
    row->has_refill = !is_null(attnum::api_keys_refill_amount);
    row->has_rate_limit =
        !is_null(attnum::api_keys_rate_limit) && !is_null(attnum::api_keys_rate_limit_window);
    if (row->has_rate_limit) {
        row->rate_limit = DatumGetInt32(value(attnum::api_keys_rate_limit));
        row->rate_limit_window =
            interval_usecs(DatumGetIntervalP(value(attnum::api_keys_rate_limit_window)));
        row->rate_limit_key_id = is_null(attnum::api_keys_rate_limit_key_id)
                                     ? row->id
                                     : *DatumGetUUIDP(value(attnum::api_keys_rate_limit_key_id));
    }
}

bool copy_api_key_row(HeapTuple tuple, TupleDesc descriptor, void* context) {
    auto* values = static_cast<Datum*>(palloc(descriptor->natts * sizeof(Datum)));
    auto* nulls = static_cast<bool*>(palloc(descriptor->natts * sizeof(bool)));
    heap_deform_tuple(tuple, descriptor, values, nulls);
    copy_api_key_values(values, nulls, api_key_attributes(descriptor),
                        static_cast<ApiKeyRow*>(context));
    pfree(values);
    pfree(nulls);
    return false;
}

bool find_api_key_through(const IamTables& tables, ScanKey key, ApiKeyRow* row, KeptScan* kept) {
    key->sk_attno = 1;  // the index's first column
    TupleTableSlot* slot =
        kept_scan_first(kept, tables.api_keys, tables.api_keys_key_prefix_key, key, 1);
    if (slot == nullptr)
        return false;
    AttrNumber count = api_key_attributes(slot->tts_tupleDescriptor);
    slot_getsomeattrs(slot, count);
    copy_api_key_values(slot->tts_values, slot->tts_isnull, count, row);
    kept_scan_release(kept);
    return true;
}

}  // namespace

int64 interval_usecs(const Interval* interval) {
    // In double, exact to the microsecond below about 285 years.
    double usecs = double(interval->month) * DAYS_PER_MONTH * USECS_PER_DAY +
                   double(interval->day) * USECS_PER_DAY + double(interval->time);
    if (usecs >= double(PG_INT64_MAX))
        return PG_INT64_MAX;
    if (usecs <= double(PG_INT64_MIN))
        return PG_INT64_MIN;
    return static_cast<int64>(usecs);
}

bool find_api_key(const IamTables& tables, const char* prefix, size_t length, ApiKeyRow* row,
                  KeptScan* kept) {
    text* value = cstring_to_text_with_len(prefix, static_cast<int>(length));
    ScanKeyData key;
    ScanKeyInit(&key, attnum::api_keys_key_prefix, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(value));
    key.sk_collation = DEFAULT_COLLATION_OID;
    bool found = kept != nullptr ? find_api_key_through(tables, &key, row, kept)
                                 : scan(tables.api_keys, tables.api_keys_key_prefix_key, &key, 1,
                                        copy_api_key_row, row);
    pfree(value);
    return found;
}

bool find_api_key_by_id(const IamTables& tables, const pg_uuid_t& id, ApiKeyRow* row) {
    ScanKeyData key;
    uuid_key(&key, attnum::api_keys_id, id);
    return scan(tables.api_keys, tables.api_keys_pkey, &key, 1, copy_api_key_row, row);
}

bool api_key_stands(const IamTables& tables, ApiKeyRow* row, TimestampTz now) {
    if (!row->is_active || (row->has_expiry && row->expires_at <= now) ||
        (row->is_suspended_ever && row->suspended_until > now))
        return false;
    if (row->has_user && row->has_company &&
        !is_active_member(tables, row->user_id, row->company_id))
        row->has_company = false;
    return !row->has_company || company_is_active(tables, row->company_id);
}

}  // namespace iam::pg
