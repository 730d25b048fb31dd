// Set-returning functions that return at most one row (verify_api_key,
// create_api_key, rotate_api_key): the row goes into a tuplestore, which is
// what a function in FROM (LATERAL) is read through anyway.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Returns the row (values, nulls), or no row when values is nullptr. The
// function must be declared RETURNS TABLE(...) or SETOF a row type.
// `descriptor` caches the declared row type for the call site (start with
// nullptr, keep it in fn_mcxt memory).
Datum return_at_most_one_row(FunctionCallInfo fcinfo, TupleDesc* descriptor, const Datum* values,
                             const bool* nulls);

}  // namespace iam::pg
