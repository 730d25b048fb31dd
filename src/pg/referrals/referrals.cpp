// Referral codes: iam.generate_referral_code and iam.redeem_referral_code.
// The code format and check character are in src/core/referral_code.cpp.
//
// Redemption reads the code's row through its unique index whatever the
// caller may select (a new user cannot see other users' codes, and must not
// be able to list them), for this answer only; the referral itself is
// inserted through SPI as the caller, so the RLS policy of iam.referrals
// decides for whom one may redeem, and the unique referred_user_id decides
// between two sessions redeeming for the same user at once.
#include "pg/boundary/guard.hpp"

#include "pg/platform/spi.hpp"
#include "pg/referrals/attempt_limits.hpp"
#include "pg/identity/context.hpp"
#include "pg/boundary/http_errors.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/tables/referral_code_rows.hpp"
#include "pg/tables/role_rows.hpp"

#include "core/error.hpp"
#include "core/referral_code.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace {

using iam::pg::text_view;

// What was typed, as a code to look up: the vanity spelling first (as
// stored: trimmed, upper case), else the canonical generated code, which
// must pass its check character before any lookup of it.
bool find_typed_code(const iam::pg::IamTables& tables, std::string_view typed,
                     iam::pg::ReferralCodeRow* row) {
    std::string vanity(iam::trim_whitespace(typed.substr(0, 256)));
    for (char& c : vanity)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    if (!vanity.empty() && typed.size() <= 256 && iam::pg::pg_call([&] {
            return find_referral_code(tables, vanity.data(), vanity.size(), row);
        }))
        return true;
    auto code = iam::normalize_typed_code(typed);
    if (!code || !iam::has_valid_check_character(*code))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "this is not a valid referral code",
                         "A character is missing, extra or mistyped.");
    return iam::pg::pg_call(
        [&] { return find_referral_code(tables, code->data(), code->size(), row); });
}

void read_inserted_row(SPITupleTable* result, uint64 processed, void* context) {
    if (processed != 1)
        elog(ERROR, "iam.redeem_referral_code(): the referral was not inserted");
    bool is_null;
    Datum row = SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null);
    *static_cast<Datum*>(context) = SPI_datumTransfer(row, false, -1);
}

// Inserts the referral as the caller; returns the new row as a datum of
// type iam.referrals. Plain C style.
Datum insert_referral(const pg_uuid_t& referrer, const pg_uuid_t& referred,
                      const pg_uuid_t& code_id) {
    Oid types[3] = {UUIDOID, UUIDOID, UUIDOID};
    Datum values[3] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&referrer)),
                       UUIDPGetDatum(const_cast<pg_uuid_t*>(&referred)),
                       UUIDPGetDatum(const_cast<pg_uuid_t*>(&code_id))};
    Datum inserted = 0;
    iam::pg::execute_as_caller(
        "INSERT INTO iam.referrals AS r (referrer_user_id, referred_user_id, "
        "referral_code_used_id) VALUES ($1, $2, $3) RETURNING r",
        3, types, values, nullptr, read_inserted_row, &inserted);
    return inserted;
}

}  // namespace

// iam.generate_referral_code(length integer) -> text
IAM_SQL_FUNCTION(iam_generate_referral_code) {
    std::string code = iam::generate_referral_code(PG_GETARG_INT32(0));
    text* result = nullptr;
    iam::pg::pg_call(
        [&] { result = cstring_to_text_with_len(code.data(), static_cast<int>(code.size())); });
    PG_RETURN_TEXT_P(result);
}

namespace {

// Whether the user was referred already (read as the owner of
// iam.referrals: the answer is about the caller's own user). Plain C style.
bool was_referred(const pg_uuid_t& user) {
    Oid types[1] = {UUIDOID};
    Datum values[1] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&user))};
    return iam::pg::execute_as_owner(iam::pg::iam_tables().referrals,
                                     "SELECT FROM iam.referrals WHERE referred_user_id = $1", 1,
                                     types, values, nullptr) > 0;
}

// The checks before any code is looked up, so that what a caller learns
// from a refusal never depends on which codes exist. First: a caller.
void require_signed_in(iam::pg::SubjectCache* subject) {
    if (iam::pg::current_subject(subject) == nullptr && !iam::pg::caller_is_service())
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("redeeming a referral code needs a signed-in user"),
                        errhint("Sign in first, or send an API key.")));
}

// Then: who may redeem for whom, whether the user was referred already, and
// whether the caller has failed attempts left, one of which this attempt
// takes (returned to them if the code turns out live). Returns whose
// failures count (nullptr: nobody's, for the service role). Plain C style:
// no C++ object is alive here.
const pg_uuid_t* require_may_redeem(const iam::pg::IamTables& tables, const pg_uuid_t& referred,
                                    iam::pg::SubjectCache* subject) {
    const pg_uuid_t* caller = iam::pg::current_subject(subject);
    bool is_service = iam::pg::caller_is_service();
    if (!is_service && memcmp(caller->data, referred.data, UUID_LEN) != 0 &&
        !iam::pg::user_holds_named_role(tables, *caller, "platform_admin"))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied to redeem a referral code for another user")));
    if (was_referred(referred))
        ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION), errmsg("this user was already referred"),
                        errdetail("A user can be referred once.")));
    if (is_service)
        return nullptr;
    if (int retry_after = iam::pg::reserve_attempt(*caller); retry_after > 0)
        throw iam::pg::too_many_requests("too many failed referral code redemptions", retry_after);
    return caller;
}

}  // namespace

// iam.redeem_referral_code(code text, referred_user_id uuid) -> iam.referrals
IAM_SQL_FUNCTION(iam_redeem_referral_code) {
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    iam::pg::SubjectCache subject{};
    require_signed_in(&subject);
    if (PG_ARGISNULL(0))
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "code must not be NULL");
    if (PG_ARGISNULL(1))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "there is no user to redeem the code for",
                         "Pass referred_user_id, or call as a signed-in user.");
    pg_uuid_t referred = *PG_GETARG_UUID_P(1);
    text* typed = PG_GETARG_TEXT_PP(0);
    const pg_uuid_t* counted = require_may_redeem(tables, referred, &subject);
    // Every code that cannot be redeemed, unknown, inactive or expired, gets
    // the same answer and counts as a failed attempt.
    iam::pg::ReferralCodeRow row{};
    // The attempt was counted as a failure before the lookup
    // (require_may_redeem): only a live code uncounts it.
    bool found = find_typed_code(tables, text_view(typed), &row);
    TimestampTz now = GetCurrentStatementStartTimestamp();
    if (!found || !row.is_active || (row.has_expiry && row.expires_at <= now))
        throw iam::Error(iam::sqlstate::no_data_found, "no referral code can be redeemed as typed",
                         {}, "Check the code with the person who gave it to you.");
    if (counted != nullptr)
        iam::pg::pg_call([&] { iam::pg::release_attempt(*counted); });
    if (memcmp(row.user_id.data, referred.data, UUID_LEN) == 0)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a user cannot redeem their own referral code");
    try {
        return iam::pg::pg_call([&] { return insert_referral(row.user_id, referred, row.id); });
    } catch (const iam::pg::PgError& error) {
        if (error.data()->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
            throw iam::Error(iam::sqlstate::unique_violation, "this user was already referred",
                             "A user can be referred once.");
        if (error.data()->sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION)
            throw iam::Error(iam::sqlstate::no_data_found, "the referred user does not exist");
        throw;
    }
}

// iam.normalize_vanity_code(code text) -> text
IAM_SQL_FUNCTION(iam_normalize_vanity_code) {
    std::string code = iam::normalize_vanity_code(text_view(PG_GETARG_TEXT_PP(0)));
    text* result = nullptr;
    iam::pg::pg_call(
        [&] { result = cstring_to_text_with_len(code.data(), static_cast<int>(code.size())); });
    PG_RETURN_TEXT_P(result);
}
