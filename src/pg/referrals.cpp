// Referral codes: iam.generate_referral_code and iam.redeem_referral_code.
// The code format and check character are in src/core/referral_code.cpp.
//
// Redemption reads the code's row through its unique index whatever the
// caller may select (a new user cannot see other users' codes, and must not
// be able to list them), for this answer only; the referral itself is
// inserted through SPI as the caller, so the RLS policy of iam.referrals
// decides for whom one may redeem, and the unique referred_user_id decides
// between two sessions redeeming for the same user at once.
#include "guard.hpp"

#include "context.hpp"
#include "iam_tables.hpp"

#include "../core/error.hpp"
#include "../core/referral_code.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace {

std::string_view text_view(const text* value) {
    return std::string_view(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

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

// Inserts the referral as the caller; returns the new row as a datum of
// type iam.referrals. Plain C style.
Datum insert_referral(const pg_uuid_t& referrer, const pg_uuid_t& referred,
                      const pg_uuid_t& code_id) {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    Oid types[3] = {UUIDOID, UUIDOID, UUIDOID};
    Datum values[3] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&referrer)),
                       UUIDPGetDatum(const_cast<pg_uuid_t*>(&referred)),
                       UUIDPGetDatum(const_cast<pg_uuid_t*>(&code_id))};
    SPI_execute_with_args(
        "INSERT INTO iam.referrals AS r (referrer_user_id, referred_user_id, "
        "referral_code_used_id) VALUES ($1, $2, $3) RETURNING r",
        3, types, values, nullptr, false, 1);
    if (SPI_processed != 1)
        elog(ERROR, "iam.redeem_referral_code(): the referral was not inserted");
    bool is_null;
    Datum row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    Datum copy = SPI_datumTransfer(row, false, -1);
    SPI_finish();
    return copy;
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

// iam.redeem_referral_code(code text, referred_user_id uuid) -> iam.referrals
IAM_SQL_FUNCTION(iam_redeem_referral_code) {
    if (PG_ARGISNULL(0))
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "code must not be NULL");
    if (PG_ARGISNULL(1))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "there is no user to redeem the code for",
                         "Pass referred_user_id, or call as a signed-in user.");
    pg_uuid_t referred = *PG_GETARG_UUID_P(1);
    iam::pg::IamTables tables;
    iam::pg::pg_call([&] { iam::pg::resolve_iam_tables(&tables); });
    iam::pg::ReferralCodeRow row{};
    if (!find_typed_code(tables, text_view(PG_GETARG_TEXT_PP(0)), &row))
        throw iam::Error(iam::sqlstate::no_data_found, "no such referral code");
    if (!row.is_active)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "this referral code is no longer active");
    if (row.has_expiry && row.expires_at <= GetCurrentStatementStartTimestamp())
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "this referral code has expired");
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
