// The rules of iam.referral_codes (src/pg/rules/write_rules.hpp): a code's
// one spelling, and who reactivates a code.
#include "pg/boundary/guard.hpp"

#include "pg/identity/context.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"
#include "core/referral_code.hpp"

#include <string_view>

namespace {
using iam::pg::column;
using iam::pg::value_of;

// A code is stored in one spelling only: a generated code as generated, or
// a vanity code as iam.normalize_vanity_code gives it (which refuses a
// vanity code that reads as a generated one). Otherwise a code typed one
// way could reach two rows.
void require_canonical_code(Relation relation, HeapTuple row) {
    bool is_null;
    Datum value = value_of(row, relation, column(relation, "code"), &is_null);
    if (is_null)
        return;  // NOT NULL says so
    text* code_text = DatumGetTextPP(value);
    std::string_view code(VARDATA_ANY(code_text), VARSIZE_ANY_EXHDR(code_text));
    auto generated = iam::normalize_typed_code(code);
    if (generated && *generated == code && iam::has_valid_check_character(code))
        return;
    if (iam::normalize_vanity_code(code) != code)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a referral code is stored as iam.normalize_vanity_code() spells it",
                         "Upper case, no surrounding spaces; or let iam.create_referral_code() "
                         "store it.");
}

}  // namespace

// iam.guard_referral_code(): BEFORE INSERT OR UPDATE ON iam.referral_codes
// FOR EACH ROW
IAM_SQL_FUNCTION(iam_guard_referral_code) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_referral_code()");
    Relation relation = trigger->tg_relation;
    if (iam::pg::is_restore(relation) || iam::pg::stands_above_rules())
        return iam::pg::let_through(trigger);
    HeapTuple row = iam::pg::written_row(trigger);
    if (iam::pg::changed(trigger, iam::pg::column(relation, "code")))
        require_canonical_code(relation, row);
    if (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event)) {
        bool was_active = iam::pg::is_true(trigger->tg_trigtuple, relation, "is_active");
        bool is_active = iam::pg::is_true(row, relation, "is_active");
        if (!was_active && is_active && !iam::pg::session_is_service() &&
            !iam::pg::caller_is_platform_admin())
            iam::pg::refuse("only a platform_admin reactivates a referral code",
                            "A deactivated code stays so for its owner; ask support.");
    }
    return iam::pg::let_through(trigger);
}
