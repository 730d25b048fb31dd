// A test-only library for sql/boundary.sql: each function crosses the C++ /
// PostgreSQL boundary in one way, while a Tracker object is alive, so that the
// test can see both the error PostgreSQL reports and whether the Tracker's
// destructor ran. It uses the extension's own guard (src/pg/boundary/guard.hpp).
#include "pg/boundary/guard.hpp"

#include "core/error.hpp"

#include <new>
#include <stdexcept>
#include <string>

extern "C" {
PG_MODULE_MAGIC;
}

namespace {

// Counts trackers constructed and not yet destroyed in this backend.
int live_trackers = 0;

struct Tracker {
    Tracker() { ++live_trackers; }
    ~Tracker() { --live_trackers; }
    Tracker(const Tracker&) = delete;
    Tracker& operator=(const Tracker&) = delete;
};

std::string text_argument(FunctionCallInfo fcinfo, int n) {
    char* value = iam::pg::pg_call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
    return value;
}

// Integer division by zero, evaluated by PostgreSQL: raises SQLSTATE 22012.
Datum divide_by_zero() {
    return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0));
}

}  // namespace

// probe_throw(sqlstate, message, detail, hint): throws iam::Error.
IAM_SQL_FUNCTION(probe_throw) {
    Tracker tracker;
    throw iam::Error(text_argument(fcinfo, 0), text_argument(fcinfo, 1), text_argument(fcinfo, 2),
                     text_argument(fcinfo, 3));
}

// probe_throw_std(kind): throws a standard or foreign C++ exception.
IAM_SQL_FUNCTION(probe_throw_std) {
    Tracker tracker;
    std::string kind = text_argument(fcinfo, 0);
    if (kind == "bad_alloc")
        throw std::bad_alloc();
    if (kind == "runtime_error")
        throw std::runtime_error("the core gave up");
    if (kind == "int")
        throw 42;
    PG_RETURN_TEXT_P(cstring_to_text("no exception"));
}

// probe_pg_error_under_cpp(): PostgreSQL raises an error while a Tracker is
// alive; pg_call turns it into a C++ exception, so the Tracker is destroyed.
IAM_SQL_FUNCTION(probe_pg_error_under_cpp) {
    Tracker tracker;
    Datum result = iam::pg::pg_call([] { return divide_by_zero(); });
    return result;
}

// probe_pg_error_unguarded(): the control experiment. The same PostgreSQL
// error without pg_call longjmps over the Tracker, whose destructor never
// runs: probe_live_trackers() then reports it. This is exactly what the
// boundary forbids in product code; it is here to prove that the test above
// would notice.
IAM_SQL_FUNCTION(probe_pg_error_unguarded) {
    Tracker tracker;
    return divide_by_zero();
}

// probe_throw_inside_pg_call(): a C++ exception thrown inside pg_call, caught
// by the body, then a PostgreSQL error. pg_call must have restored
// PostgreSQL's error stack on the way out: otherwise the error longjmps into
// pg_call's dead frame and the backend crashes.
IAM_SQL_FUNCTION(probe_throw_inside_pg_call) {
    try {
        iam::pg::pg_call([] { throw std::runtime_error("thrown inside pg_call"); });
    } catch (const std::runtime_error&) {
    }
    return divide_by_zero();
}

// probe_leave_error_stack(): returns with PostgreSQL's error stack pointing
// elsewhere, as a return from inside a PG_TRY block would leave it. The guard
// must notice, restore the stack and report an internal error.
IAM_SQL_FUNCTION(probe_leave_error_stack) {
    static sigjmp_buf abandoned;
    PG_exception_stack = &abandoned;
    PG_RETURN_INT32(1);
}

// probe_live_trackers(): trackers whose destructor has not run.
IAM_SQL_FUNCTION(probe_live_trackers) {
    PG_RETURN_INT32(live_trackers);
}

// probe_reset_trackers(): forget trackers leaked by the control experiment.
IAM_SQL_FUNCTION(probe_reset_trackers) {
    live_trackers = 0;
    PG_RETURN_VOID();
}
