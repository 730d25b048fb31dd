// The C++ / PostgreSQL error boundary (docs/development.md). Two rules, one
// tool each:
//
// 1. A C++ exception never unwinds through PostgreSQL frames. Every
//    SQL-callable function is declared with IAM_SQL_FUNCTION, whose extern "C"
//    wrapper runs the body inside guard(): it catches every exception, turns
//    it into plain C data, leaves the catch block (so the exception and all C++
//    objects of the body are destroyed) and only then calls ereport().
//
// 2. ereport() never skips a live C++ destructor. C++ code that calls a
//    PostgreSQL function which may raise an error while C++ objects are alive
//    wraps the call in pg_call(): the PostgreSQL error is caught with
//    PG_TRY/PG_CATCH, copied, and rethrown as PgError, a C++ exception that
//    unwinds normally; guard() later re-raises it unchanged. Code with no live
//    C++ objects (plain C-style code) may call PostgreSQL directly.
#pragma once

#include "pg/boundary/postgres.hpp"

#include <exception>
#include <type_traits>

namespace iam::pg {

// A PostgreSQL error travelling through C++ frames. It owns nothing the C++
// runtime must free: the ErrorData lives in the memory context of the call.
class PgError {
  public:
    explicit PgError(ErrorData* data) noexcept : data_(data) {}
    ErrorData* data() const noexcept { return data_; }

  private:
    ErrorData* data_;
};

// Raises the error described by the exception currently being handled, after
// the caller's catch block has ended. Split in two so that the ereport (which
// longjmps) happens outside any catch block.
struct PendingError {
    ErrorData* pg_error = nullptr;  // set for PgError
    int sqlerrcode = 0;             // set for every other exception
    char* message = nullptr;
    char* detail = nullptr;
    char* hint = nullptr;
    char* http_headers = nullptr;  // for an ErrorWithHeaders
};
PendingError capture_current_exception() noexcept;
[[noreturn]] void raise(const PendingError& error);

// Reports, as an internal error, that a body left PostgreSQL's error stack
// (the innermost PG_TRY) or error context stack other than it found them:
// the next error would longjmp into a dead frame. Restores both first.
[[noreturn]] void raise_broken_error_stack(sigjmp_buf* exception_stack,
                                           ErrorContextCallback* context_stack);

template <typename Body>
Datum guard(Body&& body, FunctionCallInfo fcinfo) noexcept {
    sigjmp_buf* exception_stack = PG_exception_stack;
    ErrorContextCallback* context_stack = error_context_stack;
    PendingError error;
    try {
        Datum result = body(fcinfo);
        if (unlikely(PG_exception_stack != exception_stack || error_context_stack != context_stack))
            raise_broken_error_stack(exception_stack, context_stack);
        return result;
    } catch (...) {
        error = capture_current_exception();
    }
    if (unlikely(PG_exception_stack != exception_stack || error_context_stack != context_stack))
        raise_broken_error_stack(exception_stack, context_stack);
    raise(error);
}

// Calls fn(), which may raise a PostgreSQL error; such an error comes back as
// a thrown PgError. fn itself must not hold C++ objects with destructors: a
// longjmp out of it would skip them. A C++ exception thrown by fn leaves the
// PG_TRY block through its end, so that PostgreSQL's error stack is restored
// before the exception goes on.
template <typename Fn>
auto pg_call(Fn&& fn) -> decltype(fn()) {
    if constexpr (std::is_void_v<decltype(fn())>) {
        // Written on one side of the longjmp and read on the other: volatile.
        MemoryContext caller_context = CurrentMemoryContext;
        ErrorData* volatile error = nullptr;
        volatile bool threw = false;
        std::exception_ptr thrown;
        PG_TRY();
        {
            try {
                fn();
            } catch (...) {
                thrown = std::current_exception();
                threw = true;
            }
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_context);
            error = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (threw)
            std::rethrow_exception(thrown);
        if (error != nullptr)
            throw PgError(error);
    } else {
        decltype(fn()) result{};
        pg_call([&] { result = fn(); });
        return result;
    }
}

}  // namespace iam::pg

// Defines the SQL-callable C function `name`; the braces that follow are its
// C++ body, which receives `fcinfo` and returns a Datum.
#define IAM_SQL_FUNCTION(name)                         \
    static Datum name##_body(FunctionCallInfo fcinfo); \
    extern "C" {                                       \
    PG_FUNCTION_INFO_V1(name);                         \
    }                                                  \
    extern "C" Datum name(PG_FUNCTION_ARGS) {          \
        return iam::pg::guard(name##_body, fcinfo);    \
    }                                                  \
    static Datum name##_body(FunctionCallInfo fcinfo)
