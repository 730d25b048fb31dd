// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (pg/boundary/guard.hpp).
#include "pg/tables/auth_sessions.hpp"

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {
namespace {

// Where auth.sessions is, looked up once per backend and forgotten when the
// catalog says it may have changed. Only catalog facts are kept: whether a
// session exists is asked of the table at every request.
struct SessionsTable {
    bool known;  // false: look it up again before use
    // The relation named auth.sessions, of whatever kind, so that any change
    // to it (a primary key added to a table that had none) forgets this.
    Oid relation;
    Oid heap;           // InvalidOid: nothing to check (no schema, no table, no uuid key)
    Oid index;          // its primary key
    AttrNumber column;  // the key's one column
    bool has_name_hash;
    uint32 name_hash;  // of ("sessions", auth) in the pg_class-by-name syscache
};
SessionsTable sessions_table{};
// Moved on by every invalidation that forgets sessions_table, so that a
// lookup can tell whether one arrived while it waited for a lock.
uint64 sessions_invalidations = 0;

void forget_sessions_table() {
    sessions_table.known = false;
    ++sessions_invalidations;
}

// DROP TABLE, ALTER TABLE (a column's type), a primary key made or dropped
// (both invalidate the table's relcache entry), or a reset of the whole
// relcache.
void sessions_relcache_changed(Datum, Oid relation) {
    if (sessions_table.known && (relation == InvalidOid || relation == sessions_table.relation ||
                                 relation == sessions_table.index))
        forget_sessions_table();
}

// A relation named auth.sessions made, dropped or renamed, of whatever
// kind: pg_class rows by (name, namespace) carry that name's hash. Creating
// a table sends no relcache invalidation, only this one.
void sessions_name_changed(Datum, int, uint32 hash) {
    if (sessions_table.known &&
        (hash == 0 || !sessions_table.has_name_hash || hash == sessions_table.name_hash))
        forget_sessions_table();
}

// A schema made, dropped or renamed: rare, so any one forgets the table.
void namespace_changed(Datum, int, uint32) {
    if (sessions_table.known)
        forget_sessions_table();
}

// The column of the table's primary key when it is one uuid column, as
// GoTrue's sessions_pkey (id) is; InvalidAttrNumber otherwise.
AttrNumber uuid_primary_key_column(Relation heap, Oid* index) {
    List* indexes = RelationGetIndexList(heap);  // also sets rd_pkindex
    list_free(indexes);
    *index = heap->rd_pkindex;
    if (!OidIsValid(*index))
        return InvalidAttrNumber;
    HeapTuple index_tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(*index));
    if (!HeapTupleIsValid(index_tuple))
        return InvalidAttrNumber;
    auto* form = reinterpret_cast<Form_pg_index>(GETSTRUCT(index_tuple));
    AttrNumber column = InvalidAttrNumber;
    if (form->indnkeyatts == 1 && form->indkey.values[0] > 0) {
        AttrNumber candidate = form->indkey.values[0];
        TupleDesc descriptor = RelationGetDescr(heap);
        if (candidate <= descriptor->natts &&
            TupleDescAttr(descriptor, candidate - 1)->atttypid == UUIDOID)
            column = candidate;
    }
    ReleaseSysCache(index_tuple);
    return column;
}

// Looks auth.sessions up in the catalog, and its primary key under the lock
// a probe takes. As RangeVarGetRelidExtended does: if an invalidation
// arrived while the name was resolved and the table locked (a concurrent
// DROP, RENAME or ALTER that the lock waited for), the lookup is made again.
void look_up_sessions_table() {
    constexpr char name[] = "sessions";
    SessionsTable found;
    for (;;) {
        uint64 invalidations_before = SharedInvalidMessageCounter;
        found = SessionsTable{};
        found.known = true;
        Oid auth = get_namespace_oid("auth", true);
        Relation heap = nullptr;
        if (OidIsValid(auth)) {
            found.has_name_hash = true;
            found.name_hash =
                GetSysCacheHashValue2(RELNAMENSP, CStringGetDatum(name), ObjectIdGetDatum(auth));
            Oid sessions = get_relname_relid(name, auth);
            found.relation = sessions;
            if (OidIsValid(sessions) && get_rel_relkind(sessions) == RELKIND_RELATION)
                heap = try_table_open(sessions, AccessShareLock);
        }
        if (invalidations_before != SharedInvalidMessageCounter) {
            if (heap != nullptr)
                table_close(heap, NoLock);
            continue;
        }
        if (heap != nullptr) {
            Oid index;
            AttrNumber column = uuid_primary_key_column(heap, &index);
            if (column != InvalidAttrNumber) {
                found.heap = RelationGetRelid(heap);
                found.index = index;
                found.column = column;
            } else {
                elog(DEBUG1,
                     "iam: auth.sessions has no uuid primary key; sessions are not checked");
            }
            table_close(heap, NoLock);  // locked until the transaction ends
        }
        break;
    }
    sessions_table = found;
}

}  // namespace

SessionStanding auth_session_standing(const pg_uuid_t& session_id) {
    static bool callbacks_registered = false;
    if (!callbacks_registered) {
        CacheRegisterRelcacheCallback(sessions_relcache_changed, Datum(0));
        CacheRegisterSyscacheCallback(RELNAMENSP, sessions_name_changed, Datum(0));
        CacheRegisterSyscacheCallback(NAMESPACENAME, namespace_changed, Datum(0));
        callbacks_registered = true;
    }
    // Locking the table accepts the invalidations committed since the
    // transaction began or the table was last locked: if one forgot the
    // answer (the table dropped, renamed or altered meanwhile), it is looked
    // up again.
    Relation heap = nullptr;
    for (;;) {
        if (!sessions_table.known)
            look_up_sessions_table();
        if (!OidIsValid(sessions_table.heap))
            return SessionStanding::no_table;
        uint64 seen = sessions_invalidations;
        heap = try_table_open(sessions_table.heap, AccessShareLock);
        if (heap != nullptr && seen == sessions_invalidations)
            break;
        if (heap != nullptr)
            table_close(heap, NoLock);
        sessions_table.known = false;
    }
    ScanKeyData key;
    ScanKeyInit(&key, sessions_table.column, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t*>(&session_id)));
    SysScanDesc scan =
        systable_beginscan(heap, sessions_table.index, true, statement_snapshot(), 1, &key);
    bool found = HeapTupleIsValid(systable_getnext(scan));
    systable_endscan(scan);
    table_close(heap, AccessShareLock);
    return found ? SessionStanding::live : SessionStanding::gone;
}

}  // namespace iam::pg
