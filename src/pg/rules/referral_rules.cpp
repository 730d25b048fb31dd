// The rules of iam.referrals (src/pg/rules/write_rules.hpp): a referral's
// referrer owns the code used, which is active and not expired.
#include "pg/boundary/guard.hpp"

#include "pg/identity/privileges.hpp"
#include "pg/platform/spi.hpp"
#include "pg/tables/referral_code_rows.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"

namespace {

// The code a referral names, read as a statement run now would read it (as
// the SQL query this replaced read it): with the commands of this
// transaction so far, the current one included (a code inserted by the same
// statement, in a CTE), and, in READ COMMITTED, the commits made since the
// statement began (a code deactivated meanwhile). Returns whether it exists.
bool read_code(const pg_uuid_t& code_id, iam::pg::ReferralCodeRow* code) {
    return iam::pg::pg_call([&] {
        iam::pg::IamTables tables;
        iam::pg::resolve_iam_tables(&tables);
        PushActiveSnapshot(GetTransactionSnapshot());
        CommandCounterIncrement();
        UpdateActiveSnapshotCommandId();
        bool found = iam::pg::find_referral_code_by_id(tables, code_id, code);
        PopActiveSnapshot();
        return found;
    });
}

}  // namespace

// iam.guard_referral(): BEFORE INSERT OR UPDATE OF referral_code_used_id,
// referrer_user_id ON iam.referrals FOR EACH ROW
IAM_SQL_FUNCTION(iam_guard_referral) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_referral()");
    Relation relation = trigger->tg_relation;
    if (iam::pg::is_restore(relation) || iam::pg::stands_above_rules())
        return iam::pg::let_through(trigger);
    HeapTuple row = iam::pg::written_row(trigger);
    bool code_null, referrer_null;
    Datum code_id = iam::pg::value_of(
        row, relation, iam::pg::column(relation, "referral_code_used_id"), &code_null);
    Datum referrer = iam::pg::value_of(row, relation, iam::pg::column(relation, "referrer_user_id"),
                                       &referrer_null);
    if (code_null || referrer_null)
        return iam::pg::let_through(trigger);  // NOT NULL says so
    iam::pg::ReferralCodeRow code{};
    if (!read_code(*DatumGetUUIDP(code_id), &code))
        return iam::pg::let_through(trigger);  // the foreign key says so
    if (!iam::pg::same_uuid(code.user_id, *DatumGetUUIDP(referrer)))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a referral's referrer is the owner of the code used");
    if (!code.is_active ||
        (code.has_expiry && code.expires_at <= GetCurrentStatementStartTimestamp()))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a referral needs a code that is active and not expired");
    return iam::pg::let_through(trigger);
}
