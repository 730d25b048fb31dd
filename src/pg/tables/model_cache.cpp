// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/model_cache.hpp"

#include "pg/platform/statement.hpp"

namespace iam::pg {
namespace {

// The longest name the catalogue holds (its CHECK), and a NUL.
constexpr Size name_key_size = 201;
// Past this many remembered roles or names, everything is forgotten: a
// backend asked about ever new roles keeps a bounded memory.
constexpr long remembered_at_most = 10000;

struct RoleKey {
    pg_uuid_t id;
    bool platform;
};
struct RoleGrants {
    RoleKey key;
    int count;
    char** grants;  // NUL-terminated, in cache_memory
    int* lengths;
};
struct KnownName {
    char name[name_key_size];
    bool registered;
};

MemoryContext cache_memory = nullptr;
HTAB* role_grants = nullptr;
HTAB* known_names = nullptr;
Oid watched[3] = {InvalidOid, InvalidOid, InvalidOid};
uint64 epoch = 0;  // moves on with every forgetting
bool callback_registered = false;

void forget_model() {
    ++epoch;
    role_grants = nullptr;
    known_names = nullptr;
    if (cache_memory != nullptr)
        MemoryContextReset(cache_memory);
}

// The transaction in which a change to the definitions last reached this
// backend, its own or another's (none: InvalidLocalTransactionId).
LocalTransactionId changed_in = InvalidLocalTransactionId;

void model_invalidated(Datum, Oid relation) {
    if (relation == InvalidOid || relation == watched[0] || relation == watched[1] ||
        relation == watched[2]) {
        forget_model();
        if (IsTransactionState())
            changed_in = local_transaction_id();
    }
}

// Whether answers may be remembered, and be answered from, now: not in a
// parallel operation, with the tables of 0.8.0 there, and while the
// statement's snapshot sees what the latest committed state does. A change
// that reached the transaction (its own, which a cursor opened earlier or
// the rest of the statement that made it must not see yet; another's,
// which a REPEATABLE READ snapshot must not see) makes it read under its
// statements' snapshots until it ends.
bool may_remember(const IamTables& tables) {
    if (IsInParallelMode() || !OidIsValid(tables.permissions))
        return false;
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(model_invalidated, Datum(0));
        callback_registered = true;
    }
    // Another session's change reaches a backend when it next takes a lock,
    // which a transaction that holds its locks already may not do.
    AcceptInvalidationMessages();
    if (changed_in == local_transaction_id())
        return false;
    if (watched[0] != tables.permissions || watched[1] != tables.role_permissions ||
        watched[2] != tables.company_role_permissions) {
        forget_model();
        watched[0] = tables.permissions;
        watched[1] = tables.role_permissions;
        watched[2] = tables.company_role_permissions;
    }
    if (cache_memory == nullptr)
        cache_memory =
            AllocSetContextCreate(TopMemoryContext, "iam permission model", ALLOCSET_SMALL_SIZES);
    return true;
}

HTAB* table_of(HTAB** table, const char* name, Size key_size, Size entry_size, int flags) {
    if (*table != nullptr && hash_get_num_entries(*table) >= remembered_at_most)
        forget_model();
    if (*table == nullptr) {
        HASHCTL control{};
        control.keysize = key_size;
        control.entrysize = entry_size;
        control.hcxt = cache_memory;
        *table = hash_create(name, 64, &control, HASH_ELEM | HASH_CONTEXT | flags);
    }
    return *table;
}

// The grants a role has, read now under the latest committed state, into
// the current memory context.
struct ReadGrants {
    int count, allocated;
    char** grants;
    int* lengths;
};

bool collect_grant(const char* grant, int length, void* context) {
    auto* read = static_cast<ReadGrants*>(context);
    if (read->count == read->allocated) {
        read->allocated = read->allocated == 0 ? 4 : read->allocated * 2;
        read->grants = static_cast<char**>(
            read->grants == nullptr ? palloc(sizeof(char*) * read->allocated)
                                    : repalloc(read->grants, sizeof(char*) * read->allocated));
        read->lengths = static_cast<int*>(
            read->lengths == nullptr ? palloc(sizeof(int) * read->allocated)
                                     : repalloc(read->lengths, sizeof(int) * read->allocated));
    }
    read->grants[read->count] = pnstrdup(grant, length);
    read->lengths[read->count] = length;
    ++read->count;
    return false;  // every grant
}

}  // namespace

bool permission_is_known(const IamTables& tables, const text* name) {
    Size length = VARSIZE_ANY_EXHDR(name);
    if (length >= name_key_size || !may_remember(tables))
        return permission_is_registered(tables, name);
    char key[name_key_size] = {};
    memcpy(key, VARDATA_ANY(name), length);
    HTAB* names = table_of(&known_names, "iam permission names", name_key_size, sizeof(KnownName),
                           HASH_STRINGS);
    bool found;
    auto* known = static_cast<KnownName*>(hash_search(names, key, HASH_FIND, &found));
    if (found)
        return known->registered;
    uint64 before = epoch;
    ScanKeyData scan_key;
    ScanKeyInit(&scan_key, attnum::permissions_name, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(const_cast<text*>(name)));
    scan_key.sk_collation = DEFAULT_COLLATION_OID;
    bool registered = scan(tables.permissions, tables.permissions_pkey, &scan_key, 1, nullptr,
                           nullptr, GetLatestSnapshot());
    // An invalidation that arrived while reading forgot everything: what
    // was read is then not remembered either.
    if (before == epoch) {
        names = table_of(&known_names, "iam permission names", name_key_size, sizeof(KnownName),
                         HASH_STRINGS);
        known = static_cast<KnownName*>(hash_search(names, key, HASH_ENTER, &found));
        known->registered = registered;
    }
    return registered;
}

bool remembered_grant_matches(const IamTables& tables, RoleKind kind, const pg_uuid_t& role_id,
                              bool (*matches)(const char* grant, int length, void* context),
                              void* context) {
    if (!may_remember(tables))
        return role_grant_matches(tables, kind, role_id, matches, context);
    RoleKey key{};
    key.id = role_id;
    key.platform = kind == RoleKind::platform;
    HTAB* roles =
        table_of(&role_grants, "iam role grants", sizeof(RoleKey), sizeof(RoleGrants), HASH_BLOBS);
    bool found;
    auto* remembered = static_cast<RoleGrants*>(hash_search(roles, &key, HASH_FIND, &found));
    if (!found) {
        uint64 before = epoch;
        ReadGrants read{};
        role_grant_matches(tables, kind, role_id, collect_grant, &read, GetLatestSnapshot());
        if (before != epoch) {  // forgotten meanwhile: answer from what was read
            bool any = false;
            for (int i = 0; i < read.count && !any; ++i)
                any = matches(read.grants[i], read.lengths[i], context);
            return any;
        }
        roles = table_of(&role_grants, "iam role grants", sizeof(RoleKey), sizeof(RoleGrants),
                         HASH_BLOBS);
        remembered = static_cast<RoleGrants*>(hash_search(roles, &key, HASH_ENTER, &found));
        remembered->count = 0;
        remembered->grants = static_cast<char**>(
            MemoryContextAlloc(cache_memory, sizeof(char*) * Max(read.count, 1)));
        remembered->lengths =
            static_cast<int*>(MemoryContextAlloc(cache_memory, sizeof(int) * Max(read.count, 1)));
        for (int i = 0; i < read.count; ++i) {
            remembered->grants[i] = MemoryContextStrdup(cache_memory, read.grants[i]);
            remembered->lengths[i] = read.lengths[i];
        }
        remembered->count = read.count;
    }
    for (int i = 0; i < remembered->count; ++i)
        if (matches(remembered->grants[i], remembered->lengths[i], context))
            return true;
    return false;
}

}  // namespace iam::pg
