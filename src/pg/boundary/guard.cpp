#include "pg/boundary/guard.hpp"

#include "core/error.hpp"
#include "pg/boundary/http_errors.hpp"

#include <algorithm>
#include <string>

namespace iam::pg {
namespace {

// Copies a string into the current memory context without raising an error:
// this runs inside a catch block, where a longjmp would skip the exception's
// own cleanup. Reports are cut at a length no sane message reaches.
char* copy_for_report(const std::string& text) noexcept {
    constexpr size_t max_report_length = 64 * 1024;
    if (text.empty())
        return nullptr;
    size_t length = std::min(text.size(), max_report_length);
    auto* copy = static_cast<char*>(palloc_extended(length + 1, MCXT_ALLOC_NO_OOM));
    if (copy == nullptr)
        return nullptr;
    memcpy(copy, text.data(), length);
    copy[length] = '\0';
    return copy;
}

int to_sqlerrcode(const std::string& code) noexcept {
    return MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
}

}  // namespace

PendingError capture_current_exception() noexcept {
    PendingError pending;
    try {
        throw;
    } catch (const PgError& e) {
        pending.pg_error = e.data();
        return pending;
    } catch (...) {
    }
    // describe_current_exception() rethrows the same exception in a nested
    // handler; we are still inside the outer catch block of guard().
    ErrorReport report = describe_current_exception();
    pending.sqlerrcode = to_sqlerrcode(report.sqlstate);
    pending.message = copy_for_report(report.message);
    pending.detail = copy_for_report(report.detail);
    pending.hint = copy_for_report(report.hint);
    try {
        throw;
    } catch (const ErrorWithHeaders& e) {
        pending.http_headers = copy_for_report(e.headers());
    } catch (...) {
    }
    return pending;
}

void raise_broken_error_stack(sigjmp_buf* exception_stack, ErrorContextCallback* context_stack) {
    PG_exception_stack = exception_stack;
    error_context_stack = context_stack;
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg_internal("iam_ext left PostgreSQL's error stack unbalanced")));
    pg_unreachable();
}

void raise(const PendingError& error) {
    if (error.pg_error != nullptr)
        ReThrowError(error.pg_error);
    const char* message = error.message ? error.message : "out of memory";
    if (int status = http_status_override(error.sqlerrcode); status != 0 && in_postgrest_request())
        raise_for_postgrest(status, error.sqlerrcode, message, error.detail, error.hint,
                            error.http_headers);
    ereport(ERROR, (errcode(error.sqlerrcode), errmsg_internal("%s", message),
                    error.detail ? errdetail_internal("%s", error.detail) : 0,
                    error.hint ? errhint("%s", error.hint) : 0));
    pg_unreachable();
}

}  // namespace iam::pg
