// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/pepper_rows.hpp"

namespace iam::pg {

bool find_pepper_row(const IamTables& tables, int32 version, Snapshot snapshot, PepperRow* row) {
    Relation relation = table_open(tables.api_key_peppers, AccessShareLock);
    Relation index_relation = index_open(tables.api_key_peppers_pkey, AccessShareLock);
    ScanKeyData key;
    int nkeys = 0;
    if (version > 0) {
        ScanKeyInit(&key, attnum::api_key_peppers_version, BTEqualStrategyNumber, F_INT4EQ,
                    Int32GetDatum(version));
        nkeys = 1;
    }
    // Backwards through the primary key: the first row is the highest
    // version.
    SysScanDesc scan = systable_beginscan_ordered(relation, index_relation, snapshot, nkeys, &key);
    HeapTuple tuple = systable_getnext_ordered(scan, BackwardScanDirection);
    bool found = HeapTupleIsValid(tuple);
    if (found) {
        bool version_null, pepper_null;
        Datum found_version = heap_getattr(tuple, attnum::api_key_peppers_version,
                                           RelationGetDescr(relation), &version_null);
        Datum bytes = heap_getattr(tuple, attnum::api_key_peppers_pepper,
                                   RelationGetDescr(relation), &pepper_null);
        bytea* value = pepper_null ? nullptr : DatumGetByteaPP(bytes);
        found = !version_null && value != nullptr && VARSIZE_ANY_EXHDR(value) == pepper_bytes;
        if (found) {
            row->version = DatumGetInt32(found_version);
            memcpy(row->pepper, VARDATA_ANY(value), pepper_bytes);
        }
    }
    systable_endscan_ordered(scan);
    index_close(index_relation, AccessShareLock);
    table_close(relation, AccessShareLock);
    return found;
}

}  // namespace iam::pg
