// iam.consume_api_key and iam.api_key_credits_remaining, and the charge
// iam.authenticate_request makes (src/pg/api_keys/request.cpp).
//
// Credits are a row write per request, and exact: concurrent requests of a
// key take its row lock in turn, and under READ COMMITTED each re-reads the
// row the one before it left, so N credits admit exactly N requests. The
// refill happens in the same UPDATE, so two requests at the boundary refill
// once. During a rotation's overlap both keys spend the new key's credits:
// the old key's were moved to it (iam_rotate_api_key in issuing.cpp).
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/verification.hpp"
#include "pg/platform/spi.hpp"
#include "pg/identity/context.hpp"
#include "pg/boundary/http_errors.hpp"
#include "pg/api_keys/key_usage.hpp"
#include "pg/api_keys/own_writes.hpp"
#include "pg/api_keys/rate_limits.hpp"
#include "pg/tables/iam_tables.hpp"

#include "core/counted.hpp"
#include "core/error.hpp"

#include <string>

namespace {

// Spends $2 credits of a key, the refill first when one is due; no row when
// fewer credits are left than that.
#define IAM_REFILL_DUE                                                                    \
    "k.refill_interval IS NOT NULL AND now() >= coalesce(k.refilled_at, k.created_at) + " \
    "k.refill_interval"
#define IAM_SPEND                                                                       \
    "UPDATE iam.api_keys AS k SET remaining = CASE WHEN k.remaining IS NULL THEN NULL " \
    "WHEN " IAM_REFILL_DUE                                                              \
    " THEN k.refill_amount - $2 ELSE k.remaining - $2 END, "                            \
    "refilled_at = CASE WHEN " IAM_REFILL_DUE " THEN now() ELSE k.refilled_at END "
#define IAM_ENOUGH                                           \
    " AND (k.remaining IS NULL OR CASE WHEN " IAM_REFILL_DUE \
    " THEN k.refill_amount "                                 \
    "ELSE k.remaining END >= $2) RETURNING k.remaining"
// Of key $1 itself.
const char* const spend_own = IAM_SPEND "WHERE k.id = $1" IAM_ENOUGH;
// Of the key that replaced key $1 in a rotation, if any: a replaced key is
// left with no credits and no refill, having passed them on. Not of an
// unlimited replacement: a key rotated before it was sold credits passed
// on none, and the credits sold to it since bound it alone.
const char* const spend_through_replacement = IAM_SPEND
    "WHERE k.id = coalesce((SELECT r.id FROM iam.api_keys AS r "
    "WHERE r.replaces_key_id = $1 AND r.remaining IS NOT NULL), $1)" IAM_ENOUGH;
#undef IAM_ENOUGH
#undef IAM_SPEND
#undef IAM_REFILL_DUE

struct Spent {
    bool unlimited;
    int64 remaining;
};

void read_remaining(SPITupleTable* result, uint64 processed, void* context) {
    if (processed == 0)
        return;
    bool is_null;
    Datum remaining = SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null);
    auto* spent = static_cast<Spent*>(context);
    spent->unlimited = is_null;
    spent->remaining = is_null ? 0 : DatumGetInt32(remaining);
}

void require_writable_for_credits() {
    if (RecoveryInProgress())
        throw iam::Error(iam::sqlstate::read_only_sql_transaction,
                         "this API key has credits, and spending them needs the primary", {},
                         "A standby serves keys without credits; send requests of metered keys "
                         "to the primary.");
    if (XactReadOnly)
        throw iam::Error(iam::sqlstate::read_only_sql_transaction,
                         "this API key has credits, and spending them needs a read-write "
                         "transaction",
                         {},
                         "PostgREST runs GET and HEAD (and POST to a STABLE function) read-only "
                         "from the transaction's start: serve metered reads through a VOLATILE "
                         "function, called with POST /rpc/<name>.");
}

std::string window_text(int64 window_usecs) {
    int64 seconds = window_usecs / USECS_PER_SEC;
    if (seconds % 86400 == 0)
        return "day";
    if (seconds % 3600 == 0)
        return seconds == 3600 ? "hour" : std::to_string(seconds / 3600) + " hours";
    if (seconds % 60 == 0)
        return seconds == 60 ? "minute" : std::to_string(seconds / 60) + " minutes";
    return seconds == 1 ? "second" : std::to_string(seconds) + " seconds";
}

}  // namespace

iam::pg::Charge iam::pg::charge_api_key(const ApiKeyRow& row, int32 cost) {
    if (row.has_rate_limit) {
        if (!rate_limits_available())
            throw iam::Error(iam::sqlstate::object_not_in_prerequisite_state,
                             "this API key has a rate limit, and rate limits need iam_ext in "
                             "shared_preload_libraries",
                             {},
                             "Add iam_ext to shared_preload_libraries in postgresql.conf and "
                             "restart the server. The server of make run preloads it: if an "
                             "older one still runs, make stop, then make run.");
        // A row restored past the write rules may hold any limit; counting
        // it would divide by its window.
        if (!is_valid_rate_limit(row.rate_limit, row.rate_limit_window))
            throw iam::Error(
                iam::sqlstate::invalid_parameter_value, "this API key's rate limit is out of range",
                {}, "Set it again with iam.set_api_key_rate_limit(key_id, requests, per).");
        Admission admission =
            admit_request(row.rate_limit_key_id, row.rate_limit, row.rate_limit_window);
        // A full table refuses rather than count the key nowhere, which
        // would let it through unlimited.
        if (admission.table_full)
            throw too_many_requests(
                "the rate limit table has no room for this API key: every slot it may take "
                "holds a key at its limit",
                admission.retry_after);
        if (admission.retry_after != 0)
            throw too_many_requests("this API key is over its rate limit of " +
                                        iam::counted(row.rate_limit, "request", "requests") +
                                        " per " + window_text(row.rate_limit_window),
                                    admission.retry_after);
    }
    if (!row.has_credits)
        return Charge{false, 0};
    require_writable_for_credits();
    Spent spent{};
    Oid types[2] = {UUIDOID, INT4OID};
    Datum values[2] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&row.id)), Int32GetDatum(cost)};
    auto spend = [&](const char* statement) {
        // Spending is the one write to a key's credits that is not audited
        // (the WHEN of the audit trigger asks).
        CreditSpend spending;
        return pg_call([&] {
            return execute_as_owner(iam_tables().api_keys, statement, 2, types, values, nullptr,
                                    read_remaining, &spent);
        });
    };
    // Most keys spend their own credits, without looking for a replacement;
    // one found empty (perhaps replaced since the statement's snapshot) is
    // asked again through its replacement.
    bool may_have_own = row.remaining > 0 || row.has_refill;
    uint64 updated = may_have_own ? spend(spend_own) : 0;
    if (updated == 0)
        updated = spend(spend_through_replacement);
    if (updated == 0)
        throw iam::Error(iam::sqlstate::configuration_limit_exceeded,
                         cost == 1 ? "this API key has no credits left"
                                   : "this API key has fewer credits left than the " +
                                         std::to_string(cost) + " this call costs",
                         {}, "Its owner can buy or wait for more: see its remaining and refill.");
    return Charge{!spent.unlimited, spent.remaining};
}

// iam.consume_api_key(api_key text, cost integer DEFAULT 1) -> integer
IAM_SQL_FUNCTION(iam_consume_api_key) {
    if (PG_ARGISNULL(1))
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "cost must not be NULL");
    int32 cost = PG_GETARG_INT32(1);
    if (cost < 0)
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "cost must not be negative");
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    iam::pg::ApiKeyRow row{};
    if (PG_ARGISNULL(0) ||
        !iam::pg::verify_api_key(tables, PG_GETARG_TEXT_PP(0), iam::pg::LastUse::record, &row))
        throw iam::Error(iam::sqlstate::invalid_authorization, "invalid API key");
    iam::pg::Charge charge = iam::pg::charge_api_key(row, cost);
    if (!charge.has_credits)
        PG_RETURN_NULL();
    PG_RETURN_INT32(static_cast<int32>(charge.remaining));
}

// iam.api_key_credits_remaining() -> integer
IAM_SQL_FUNCTION(iam_api_key_credits_remaining) {
    const iam::pg::ApiKeyContext* context = iam::pg::api_key_context();
    if (context == nullptr || !context->has_credits)
        PG_RETURN_NULL();
    PG_RETURN_INT32(static_cast<int32>(context->credits_remaining));
}
