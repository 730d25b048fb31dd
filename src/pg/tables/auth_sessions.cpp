// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (pg/boundary/guard.hpp).
#include "pg/tables/auth_sessions.hpp"

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {
namespace {

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

}  // namespace

SessionStanding auth_session_standing(const pg_uuid_t& session_id) {
    Oid auth = get_namespace_oid("auth", true);
    if (!OidIsValid(auth))
        return SessionStanding::no_table;
    Oid sessions = get_relname_relid("sessions", auth);
    if (!OidIsValid(sessions) || get_rel_relkind(sessions) != RELKIND_RELATION)
        return SessionStanding::no_table;
    Relation heap = table_open(sessions, AccessShareLock);
    Oid index;
    AttrNumber column = uuid_primary_key_column(heap, &index);
    if (column == InvalidAttrNumber) {
        table_close(heap, AccessShareLock);
        elog(DEBUG1, "iam: auth.sessions has no uuid primary key; sessions are not checked");
        return SessionStanding::no_table;
    }
    ScanKeyData key;
    ScanKeyInit(&key, column, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t*>(&session_id)));
    SysScanDesc scan = systable_beginscan(heap, index, true, statement_snapshot(), 1, &key);
    bool found = HeapTupleIsValid(systable_getnext(scan));
    systable_endscan(scan);
    table_close(heap, AccessShareLock);
    return found ? SessionStanding::live : SessionStanding::gone;
}

}  // namespace iam::pg
