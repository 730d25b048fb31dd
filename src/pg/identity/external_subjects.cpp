// Subjects of other identity providers (docs/roles.md, "Identity
// providers"): the trigger that keeps the cached subject in step with
// iam.external_identities, and provisioning on first sight.
//
// The lookup itself is in context.cpp, once per change of the claims: a
// JWT whose "sub" is not a UUID (Auth0's "auth0|...", Clerk's "user_2...")
// names the user iam.external_identities maps (issuer, subject) to, the
// issuer read from the claim iam.jwt_issuer_claim.
//
// With iam.external_subjects = provision, iam.authenticate_request() (the
// db-pre-request) maps a subject it meets for the first time to a new
// iam.users row. It writes as the owner of iam.external_identities: the
// extension's own bookkeeping, like the audit trail, which the caller could
// not do (only the service role and platform admins write iam.users). It
// cannot write in a read-only transaction, which is what PostgREST opens
// for GET and HEAD: there the subject stays unknown (anonymous) for that
// request, and the first request that may write (POST, PATCH, PUT, DELETE,
// or POST /rpc/...) maps it.
//
// Plain C style: no C++ object is alive across the PostgreSQL calls here.
#include "pg/boundary/guard.hpp"

#include "pg/identity/context.hpp"
#include "pg/identity/external_subjects.hpp"
#include "pg/platform/spi.hpp"

#include "core/error.hpp"

namespace iam::pg {

void provision_external_subject() {
    if (external_subjects() != ExternalSubjects::provision || XactReadOnly)
        return;
    char *issuer, *subject;
    size_t issuer_length, subject_length;
    if (!unmapped_external_subject(&issuer, &issuer_length, &subject, &subject_length))
        return;
    Oid table = iam_relation("external_identities");
    Oid types[2] = {TEXTOID, TEXTOID};
    Datum values[2] = {
        PointerGetDatum(cstring_to_text_with_len(issuer, static_cast<int>(issuer_length))),
        PointerGetDatum(cstring_to_text_with_len(subject, static_cast<int>(subject_length)))};
    // Two first requests of one subject at once make one user: the second
    // waits for the first, then (READ COMMITTED, as PostgREST runs) sees its
    // row and inserts nothing. Under REPEATABLE READ it fails with 23505 or
    // 40001 instead, and its retry finds the mapping.
    (void)execute_as_owner(table,
                           "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended("
                           "'iam.external_identities' || $1 || E'\\n' || $2, 0))",
                           2, types, values, nullptr);
    struct Provisioned {
        bool has_user;
        pg_uuid_t user_id;
    } provisioned{false, {}};
    (void)execute_as_owner(
        table,
        "WITH new_user AS ("
        "  INSERT INTO iam.users (id) SELECT pg_catalog.gen_random_uuid()"
        "  WHERE NOT EXISTS (SELECT FROM iam.external_identities AS e"
        "                    WHERE e.issuer = $1 AND e.subject = $2)"
        "  RETURNING id),"
        " new_settings AS (INSERT INTO iam.user_settings (user_id) SELECT id FROM new_user)"
        " INSERT INTO iam.external_identities (issuer, subject, user_id)"
        " SELECT $1, $2, id FROM new_user RETURNING user_id",
        2, types, values, nullptr,
        [](SPITupleTable* result, uint64 processed, void* context) {
            auto* p = static_cast<Provisioned*>(context);
            if (processed != 1)
                return;
            bool is_null;
            Datum user = SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null);
            if (!is_null) {
                p->has_user = true;
                p->user_id = *DatumGetUUIDP(user);
            }
        },
        &provisioned);
    pfree(issuer);
    pfree(subject);
    // This statement's snapshot, which every later read of it uses, was
    // taken before the insert: the claims' subject is the new user from
    // here on, without another lookup.
    if (provisioned.has_user)
        adopt_external_subject(provisioned.user_id);
}

}  // namespace iam::pg

// iam.external_identities_changed() -> trigger
//
// AFTER ... FOR EACH STATEMENT on iam.external_identities: a link or unlink
// made in this backend counts from its next statement on, whatever the
// claims; other backends see it from their next transaction at the latest:
// the generation moves on at every transaction's end, and the table's
// invalidation, sent at commit, makes every backend forget the answers it
// remembered (and this one at its next command, or at a rollback).
IAM_SQL_FUNCTION(iam_external_identities_changed) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.external_identities_changed() must be called as a trigger");
    CacheInvalidateRelcacheByRelid(
        RelationGetRelid(reinterpret_cast<TriggerData*>(fcinfo->context)->tg_relation));
    iam::pg::external_identities_changed();
    return PointerGetDatum(nullptr);
}
