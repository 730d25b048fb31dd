// The rules of iam.referrals (src/pg/rules/write_rules.hpp): a referral's
// referrer owns the code used, which is active and not expired.
#include "pg/boundary/guard.hpp"

#include "pg/identity/privileges.hpp"
#include "pg/platform/spi.hpp"
#include "pg/tables/iam_tables.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"

namespace {

using iam::pg::column;
using iam::pg::let_through;
using iam::pg::row_trigger;
using iam::pg::same_uuid;
using iam::pg::value_of;
using iam::pg::written_row;

struct CodeOwner {
    bool found, is_active, has_expiry;
    pg_uuid_t user_id;
    TimestampTz expires_at;
};

void read_code_owner(SPITupleTable* result, uint64 processed, void* context) {
    auto* owner = static_cast<CodeOwner*>(context);
    owner->found = processed > 0;
    if (!owner->found)
        return;
    bool is_null;
    HeapTuple row = result->vals[0];
    owner->user_id = *DatumGetUUIDP(SPI_getbinval(row, result->tupdesc, 1, &is_null));
    Datum active = SPI_getbinval(row, result->tupdesc, 2, &is_null);
    owner->is_active = !is_null && DatumGetBool(active);
    Datum expires = SPI_getbinval(row, result->tupdesc, 3, &is_null);
    owner->has_expiry = !is_null;
    owner->expires_at = is_null ? 0 : DatumGetTimestampTz(expires);
}

}  // namespace

// iam.guard_referral(): BEFORE INSERT OR UPDATE OF referral_code_used_id,
// referrer_user_id ON iam.referrals FOR EACH ROW
IAM_SQL_FUNCTION(iam_guard_referral) {
    TriggerData* trigger = row_trigger(fcinfo, "iam.guard_referral()");
    Relation relation = trigger->tg_relation;
    if (iam::pg::is_restore(relation) || iam::pg::stands_above_rules())
        return let_through(trigger);
    HeapTuple row = written_row(trigger);
    bool code_null, referrer_null;
    Datum code_id = value_of(row, relation, column(relation, "referral_code_used_id"), &code_null);
    Datum referrer = value_of(row, relation, column(relation, "referrer_user_id"), &referrer_null);
    if (code_null || referrer_null)
        return let_through(trigger);  // NOT NULL says so
    CodeOwner owner{};
    Oid types[1] = {UUIDOID};
    Datum values[1] = {code_id};
    iam::pg::pg_call([&] {
        iam::pg::execute_as_owner(
            iam::pg::iam_relation("referral_codes"),
            "SELECT user_id, is_active, expires_at FROM iam.referral_codes WHERE id = $1", 1, types,
            values, nullptr, read_code_owner, &owner);
    });
    if (!owner.found)
        return let_through(trigger);  // the foreign key says so
    if (!same_uuid(owner.user_id, *DatumGetUUIDP(referrer)))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a referral's referrer is the owner of the code used");
    if (!owner.is_active ||
        (owner.has_expiry && owner.expires_at <= GetCurrentStatementStartTimestamp()))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a referral needs a code that is active and not expired");
    return let_through(trigger);
}
