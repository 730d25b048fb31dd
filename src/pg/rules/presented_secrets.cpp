// What a caller proves by presenting a secret, for the rest of the
// transaction: an invitation's token (iam.present_invitation_token) or an
// API key (iam.present_api_key). The functions that act on rows the caller
// may not otherwise see (iam.accept_company_invitation,
// iam.report_leaked_api_key) run as the caller; RLS policies admit the rows
// that match what was presented, through the readers below.
//
// The state is backend memory that only these C functions write, from the
// secret itself: a client can neither set it without holding the secret
// nor carry it past its transaction (it is cleared at the end of the
// transaction, committed or not, and with a rolled-back subtransaction that
// recorded it). The readers are PARALLEL RESTRICTED: a parallel worker does
// not share the backend's memory.
//
// Plain C-style code where no C++ object is alive (pg/boundary/guard.hpp).
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/verification.hpp"
#include "pg/rules/presented_secrets.hpp"
#include "pg/platform/spi.hpp"
#include "pg/tables/iam_tables.hpp"

#include <sodium.h>

#include <initializer_list>

namespace {

// The SHA-256 of an invitation's token, in hex, as company_invitations.token_hash.
constexpr int invitation_hash_length = 2 * crypto_hash_sha256_BYTES;
// Tokens are "inv_" and 32 characters; anything longer presents nothing.
constexpr int max_invitation_token_length = 64;
// A stored api_keys.hashed_key; a longer one is not one this version writes.
constexpr int max_stored_key_hash_length = 128;

struct Presented {
    bool present;
    SubTransactionId recorded_in;
};

// The invitation a token's hash names, if its inviter may still invite.
const char* const invitation_by_token =
    "SELECT i.id FROM iam.company_invitations AS i WHERE i.token_hash = $1 "
    "AND (i.invited_by IS NULL "
    "OR EXISTS (SELECT FROM iam.company_users AS cu WHERE cu.user_id = i.invited_by "
    "AND cu.company_id = i.company_id AND cu.is_active_in_company "
    "AND cu.role_in_company = 'admin') "
    "OR EXISTS (SELECT FROM iam.user_roles AS ur JOIN iam.roles AS r ON r.id = ur.role_id "
    "WHERE ur.user_id = i.invited_by AND r.name = 'platform_admin'))";

Presented invitation{};
char invitation_hash[invitation_hash_length + 1];
bool has_invitation_id;
pg_uuid_t invitation_id;

void read_invitation_id(SPITupleTable* result, uint64 processed, void*) {
    has_invitation_id = false;
    if (processed != 1)
        return;
    bool is_null;
    Datum id = SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null);
    if (is_null)
        return;
    invitation_id = *DatumGetUUIDP(id);
    has_invitation_id = true;
}

Presented api_key{};
pg_uuid_t api_key_id;
char api_key_hash[max_stored_key_hash_length + 1];

void forget(Presented* presented) {
    presented->present = false;
}

void forget_all() {
    forget(&invitation);
    forget(&api_key);
    sodium_memzero(invitation_hash, sizeof(invitation_hash));
    sodium_memzero(api_key_hash, sizeof(api_key_hash));
}

void record(Presented* presented) {
    presented->present = true;
    presented->recorded_in = GetCurrentSubTransactionId();
}

void at_transaction_end(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE)
        forget_all();
}

// A subtransaction that recorded a secret: rolled back, it takes the secret
// along; committed, its parent holds it.
void at_subtransaction_end(SubXactEvent event, SubTransactionId subtransaction,
                           SubTransactionId parent, void*) {
    for (Presented* presented : {&invitation, &api_key}) {
        if (!presented->present || presented->recorded_in != subtransaction)
            continue;
        if (event == SUBXACT_EVENT_ABORT_SUB)
            forget(presented);
        else if (event == SUBXACT_EVENT_COMMIT_SUB)
            presented->recorded_in = parent;
    }
}

}  // namespace

namespace iam::pg {

void register_presented_secrets() {
    RegisterXactCallback(at_transaction_end, nullptr);
    RegisterSubXactCallback(at_subtransaction_end, nullptr);
}

}  // namespace iam::pg

// iam.present_invitation_token(token text) -> void
IAM_SQL_FUNCTION(iam_present_invitation_token) {
    forget(&invitation);
    if (PG_ARGISNULL(0))
        PG_RETURN_VOID();
    text* token = PG_GETARG_TEXT_PP(0);
    int length = VARSIZE_ANY_EXHDR(token);
    if (length == 0 || length > max_invitation_token_length)
        PG_RETURN_VOID();
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(VARDATA_ANY(token)),
                       static_cast<unsigned long long>(length));
    sodium_bin2hex(invitation_hash, sizeof(invitation_hash), digest, sizeof(digest));
    sodium_memzero(digest, sizeof(digest));
    // Which invitation the token names, read as the table's owner for this
    // answer only (the API roles may not read token_hash, so the function
    // that accepts names the row by its id). An invitation is valid only
    // while its inviter still administers its company, or holds
    // platform_admin, or when it names no inviter (the service role's, the
    // operator's): the invitee may read neither the inviter's membership nor
    // their roles, so that is asked here too, and a token whose inviter no
    // longer may invite names no invitation.
    has_invitation_id = false;
    Oid types[1] = {TEXTOID};
    Datum values[1] = {PointerGetDatum(cstring_to_text(invitation_hash))};
    iam::pg::execute_as_owner(iam::pg::iam_relation("company_invitations"), invitation_by_token, 1,
                              types, values, nullptr, read_invitation_id, nullptr);
    record(&invitation);
    PG_RETURN_VOID();
}

// iam.presented_invitation_hash() -> text: the token_hash of the invitation
// whose token this transaction presented; NULL if none.
IAM_SQL_FUNCTION(iam_presented_invitation_hash) {
    if (!invitation.present)
        PG_RETURN_NULL();
    PG_RETURN_TEXT_P(cstring_to_text_with_len(invitation_hash, invitation_hash_length));
}

// iam.presented_invitation_id() -> uuid: the id of the invitation whose
// token this transaction presented; NULL if none (or no such invitation).
IAM_SQL_FUNCTION(iam_presented_invitation_id) {
    if (!invitation.present || !has_invitation_id)
        PG_RETURN_NULL();
    auto* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *id = invitation_id;
    PG_RETURN_UUID_P(id);
}

// iam.present_api_key(api_key text) -> void: records the key whose secret
// this is, whatever its state (revoked, expired, its owner banned or its
// company suspended): holding the secret is what entitles one to kill it.
IAM_SQL_FUNCTION(iam_present_api_key) {
    forget(&api_key);
    if (PG_ARGISNULL(0))
        PG_RETURN_VOID();
    text* key = PG_GETARG_TEXT_PP(0);
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    iam::pg::ApiKeyRow row{};
    if (!iam::pg::api_key_secret_matches(tables, key, &row))
        PG_RETURN_VOID();
    int length = VARSIZE_ANY_EXHDR(row.hashed_key);
    if (length > max_stored_key_hash_length)
        PG_RETURN_VOID();
    memcpy(api_key_hash, VARDATA_ANY(row.hashed_key), length);
    api_key_hash[length] = '\0';
    api_key_id = row.id;
    record(&api_key);
    PG_RETURN_VOID();
}

// iam.presented_api_key_id() -> uuid: the id of the key this transaction
// presented; NULL if none. (The id is no secret: its holder gets it from
// iam.verify_api_key.)
IAM_SQL_FUNCTION(iam_presented_api_key_id) {
    if (!api_key.present)
        PG_RETURN_NULL();
    auto* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *id = api_key_id;
    PG_RETURN_UUID_P(id);
}

// iam.is_presented_api_key(hashed_key text) -> boolean: whether a row's
// stored hash is that of the key this transaction presented. The hash itself
// is never returned: the API roles may not read hashed_key.
IAM_SQL_FUNCTION(iam_is_presented_api_key) {
    if (!api_key.present || PG_ARGISNULL(0))
        PG_RETURN_BOOL(false);
    text* stored = PG_GETARG_TEXT_PP(0);
    size_t length = VARSIZE_ANY_EXHDR(stored);
    PG_RETURN_BOOL(length == strlen(api_key_hash) &&
                   sodium_memcmp(VARDATA_ANY(stored), api_key_hash, length) == 0);
}
