// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/user_rows.hpp"

namespace iam::pg {

UserStanding user_standing(const IamTables& tables, const pg_uuid_t& user_id, TimestampTz now) {
    ScanKeyData key;
    uuid_key(&key, attnum::users_id, user_id);
    struct Found {
        TimestampTz now;
        UserStanding standing;
    } found{now, UserStanding::unknown};
    scan(
        tables.users, tables.users_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* f = static_cast<Found*>(context);
            f->standing = UserStanding::active;
            // The positions were checked where the table has the columns
            // (resolve_iam_tables); a schema older than 0.7.0 has neither.
            if (descriptor->natts < attnum::users_deleted_at ||
                TupleDescAttr(descriptor, attnum::users_banned_until - 1)->attisdropped ||
                TupleDescAttr(descriptor, attnum::users_deleted_at - 1)->attisdropped)
                return false;
            bool banned_null, deleted_null;
            Datum banned =
                heap_getattr(tuple, attnum::users_banned_until, descriptor, &banned_null);
            (void)heap_getattr(tuple, attnum::users_deleted_at, descriptor, &deleted_null);
            if (!deleted_null || (!banned_null && DatumGetTimestampTz(banned) > f->now))
                f->standing = UserStanding::barred;
            return false;
        },
        &found);
    return found.standing;
}

}  // namespace iam::pg
