// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/platform/result_rows.hpp"

namespace iam::pg {

Datum return_at_most_one_row(FunctionCallInfo fcinfo, TupleDesc* declared, const Datum* values,
                             const bool* nulls) {
    auto* result = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (result == nullptr || !IsA(result, ReturnSetInfo) ||
        (result->allowedModes & SFRM_Materialize) == 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("set-valued function called in context that cannot accept a set")));
    // The descriptor: what the caller expects (a function in FROM says), else
    // the declared one, looked up once per call site.
    TupleDesc descriptor = result->expectedDesc;
    if (descriptor == nullptr) {
        if (*declared == nullptr) {
            TupleDesc found;
            if (get_call_result_type(fcinfo, nullptr, &found) != TYPEFUNC_COMPOSITE)
                elog(ERROR, "return type must be a row type");
            MemoryContext previous = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
            *declared = CreateTupleDescCopy(found);
            MemoryContextSwitchTo(previous);
        }
        descriptor = *declared;
    }
    MemoryContext previous = MemoryContextSwitchTo(result->econtext->ecxt_per_query_memory);
    Tuplestorestate* rows = tuplestore_begin_heap(false, false, work_mem);
    if (values != nullptr)
        tuplestore_putvalues(rows, descriptor, const_cast<Datum*>(values),
                             const_cast<bool*>(nulls));
    // The executor frees setDesc after reading the rows: give it a copy.
    result->setDesc = CreateTupleDescCopy(descriptor);
    MemoryContextSwitchTo(previous);
    result->returnMode = SFRM_Materialize;
    result->setResult = rows;
    return Datum(0);
}

}  // namespace iam::pg
