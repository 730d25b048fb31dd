// Where iam_ext's own tables are, and the scans of the C code that reads
// them directly through their indexes (the checks run once per row in RLS
// policies: no SPI, no planner, no RLS recursion). Each kind of row has its
// reader beside this file: role_rows.hpp, membership_rows.hpp,
// api_key_rows.hpp, pepper_rows.hpp, referral_code_rows.hpp.
// api_key_rows.hpp, referral_code_rows.hpp, external_identity_rows.hpp.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Attribute numbers as created by the install script. Upgrades only ever
// append columns, so these never move; resolve_iam_tables checks them
// against the catalog once per backend and refuses a schema that differs.
namespace attnum {
constexpr AttrNumber users_id = 1;
constexpr AttrNumber users_banned_until = 6;  // since 0.7.0
constexpr AttrNumber users_deleted_at = 7;    // since 0.7.0
constexpr AttrNumber roles_id = 1;
constexpr AttrNumber roles_name = 2;
constexpr AttrNumber user_roles_user_id = 1;
constexpr AttrNumber user_roles_role_id = 2;
constexpr AttrNumber companies_id = 1;
constexpr AttrNumber companies_current_iam_status = 3;
constexpr AttrNumber companies_is_deleted = 6;
constexpr AttrNumber company_users_user_id = 1;
constexpr AttrNumber company_users_company_id = 2;
constexpr AttrNumber company_users_is_active_in_company = 4;
constexpr AttrNumber company_users_role_in_company = 5;  // since 0.7.0
constexpr AttrNumber api_keys_id = 1;
constexpr AttrNumber api_keys_user_id = 2;
constexpr AttrNumber api_keys_company_id = 3;
constexpr AttrNumber api_keys_key_prefix = 5;
constexpr AttrNumber api_keys_hashed_key = 6;
constexpr AttrNumber api_keys_permissions = 7;
constexpr AttrNumber api_keys_expires_at = 8;
constexpr AttrNumber api_keys_last_used_at = 9;
constexpr AttrNumber api_keys_is_active = 11;
constexpr AttrNumber api_keys_suspended_until = 13;    // since 0.7.0
constexpr AttrNumber api_keys_remaining = 15;          // since 0.7.0
constexpr AttrNumber api_keys_refill_amount = 16;      // since 0.7.0
constexpr AttrNumber api_keys_rate_limit = 19;         // since 0.7.0
constexpr AttrNumber api_keys_rate_limit_window = 20;  // since 0.7.0
constexpr AttrNumber api_keys_rate_limit_key_id = 21;  // since 0.7.0
constexpr AttrNumber api_key_peppers_version = 1;      // since 0.4.0, as the table
constexpr AttrNumber api_key_peppers_pepper = 2;
constexpr AttrNumber referral_codes_id = 1;
constexpr AttrNumber referral_codes_user_id = 2;
constexpr AttrNumber referral_codes_code = 3;
constexpr AttrNumber referral_codes_is_active = 4;
constexpr AttrNumber referral_codes_expires_at = 6;
// Since 0.8.0: the permission model.
constexpr AttrNumber permissions_name = 1;
constexpr AttrNumber role_permissions_role_id = 1;
constexpr AttrNumber role_permissions_permission = 2;
constexpr AttrNumber company_roles_id = 1;
constexpr AttrNumber company_roles_company_id = 2;
constexpr AttrNumber company_roles_name = 3;
constexpr AttrNumber company_role_permissions_company_role_id = 1;
constexpr AttrNumber company_role_permissions_permission = 2;
constexpr AttrNumber company_member_roles_user_id = 1;
constexpr AttrNumber company_member_roles_company_id = 2;
constexpr AttrNumber company_member_roles_company_role_id = 3;
constexpr AttrNumber external_identities_issuer = 1;   // since 0.8.0
constexpr AttrNumber external_identities_subject = 2;  // since 0.8.0
constexpr AttrNumber external_identities_user_id = 3;  // since 0.8.0
}  // namespace attnum

struct IamTables {
    Oid users, users_pkey;
    Oid roles, roles_pkey, roles_name_key;
    Oid user_roles, user_roles_pkey, user_roles_role_id_idx;
    Oid companies, companies_pkey;
    Oid company_users, company_users_pkey;
    Oid api_keys, api_keys_pkey, api_keys_key_prefix_key;
    Oid api_key_peppers, api_key_peppers_pkey;
    Oid referral_codes, referral_codes_pkey, referral_codes_code_key;
    Oid referrals;
    Oid audit_log;
    // Since 0.8.0; InvalidOid on an older schema, which grants nothing.
    Oid permissions, permissions_pkey;
    Oid role_permissions, role_permissions_pkey;
    Oid company_roles, company_roles_pkey, company_roles_name_idx;
    Oid company_role_permissions, company_role_permissions_pkey;
    Oid company_member_roles, company_member_roles_pkey;
    // Since 0.8.0: InvalidOid on an older schema (the library is replaced
    // before ALTER EXTENSION iam_ext UPDATE runs).
    Oid external_identities, external_identities_pkey;
};

// Looks the tables up in schema iam (an error if the extension is missing);
// cached for the backend until a relcache invalidation touches one of them.
void resolve_iam_tables(IamTables* tables);

// The same, returned: for naming one table (execute_as_owner's).
inline IamTables iam_tables() {
    IamTables tables;
    resolve_iam_tables(&tables);
    return tables;
}

// The snapshot the extension's reads use: the calling statement's, so that
// they see what it sees.
Snapshot statement_snapshot();

// Scans `heap` through `index` with `keys` under `snapshot` (by default
// statement_snapshot()),
// calling visit(tuple, descriptor, context) until it returns false; returns
// whether any row was visited. The one scan of the table readers.
bool scan(Oid heap, Oid index, ScanKey keys, int nkeys, bool (*visit)(HeapTuple, TupleDesc, void*),
          void* context, Snapshot snapshot = nullptr);

// An index scan kept open for the rest of a statement, for a reader called
// once per row (a policy's check, verify_api_key in FROM): opening the table
// and its index and setting up a scan cost about as much as the B-tree
// descent itself. It lives in `memory`, the call site's per-query context,
// and is closed when that context goes, when a later statement brings
// another snapshot, and when a (sub)transaction ends; an abort gives it up.
// Zero-initialised with `memory` set: closed.
struct KeptScan {
    MemoryContext memory;
    bool open, closes_with_memory;
    Relation heap, index;
    IndexScanDesc scan;
    int nkeys;
    TupleTableSlot* slot;
    Snapshot snapshot;
    Buffer visibility_map;  // pinned by kept_scan_exists, InvalidBuffer if none
    KeptScan* next;         // on the list of open scans
    MemoryContextCallback close_callback;
};

// The first row of `heap` whose leading index columns equal `keys` (their
// sk_attno are the index's column numbers, 1..nkeys), under
// statement_snapshot(), through `kept`: its slot with the row, or NULL. The
// caller reads the slot and then calls kept_scan_release.
TupleTableSlot* kept_scan_first(KeptScan* kept, Oid heap, Oid index, ScanKey keys, int nkeys);
void kept_scan_release(KeptScan* kept);
// Keeps `heap` locked (ACCESS SHARE) until the transaction ends, or the
// subtransaction that took the lock aborts: while it is held its rows keep
// their places (tids), since VACUUM FULL, CLUSTER and the truncation of a
// VACUUM need a stronger lock. For a statement that keeps places of rows
// it read (a scan releases its lock when it closes).
void hold_rows_in_place(Oid heap);

// What a row read by its place says of the key it was kept for: it is the
// key's row, another's (its place was kept for a key of the same hash
// bits), or one the statement does not see (the key must be read anew).
enum class RowMatch : uint8 { same, other, unreadable };

// The row at `place` in `heap` if statement_snapshot() sees it, read
// through `kept` (the scan of `heap` by `index` a lookup would use: one
// buffer, no descent): its slot, or NULL. The caller reads the slot and then
// calls kept_scan_release.
TupleTableSlot* kept_scan_fetch(KeptScan* kept, Oid heap, Oid index, int nkeys,
                                const ItemPointerData& place);
// Whether a row matches, through `kept`, as an index-only scan decides it:
// an entry on a page the visibility map says all visible is a visible row,
// without reading the page.
bool kept_scan_exists(KeptScan* kept, Oid heap, Oid index, ScanKey keys, int nkeys);

// index_beginscan for a scan that no plan node reports: since PostgreSQL
// 18 a scan may report to EXPLAIN ANALYZE, through instrumentation it is
// given.
inline IndexScanDesc begin_index_scan(Relation heap, Relation index, Snapshot snapshot, int nkeys) {
#if PG_VERSION_NUM >= 180000
    return index_beginscan(heap, index, snapshot, nullptr, nkeys, 0);
#else
    return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

// How many entries of `index` (of `heap`) match `keys` (their sk_attno are
// the index's column numbers; none: every entry), counted in the index
// alone, under statement_snapshot() as far as the index can tell (dead
// entries not yet pruned count too): what sizes a set before it is built.
uint64 count_index_entries(Oid heap, Oid index, ScanKey keys, int nkeys);

// A uuid equality scan key on `attribute` (a heap or an index column).
void uuid_key(ScanKey key, AttrNumber attribute, const pg_uuid_t& value);
// A uuid attribute of a row, copied to *out; false if it is NULL.
bool copy_uuid_attribute(HeapTuple tuple, TupleDesc descriptor, AttrNumber number, pg_uuid_t* out);

}  // namespace iam::pg
