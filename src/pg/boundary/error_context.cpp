// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/boundary/error_context.hpp"

#include "pg/boundary/postgres.hpp"

namespace iam::pg {
namespace {

emit_log_hook_type previous_emit_log_hook = nullptr;

constexpr char statement_entry[] = "SQL statement \"";
// The frame a statement of a PL/pgSQL function is followed by, and the
// start of another entry: a statement entry ends at the first of these.
constexpr char plpgsql_frame[] = "\"\nPL/pgSQL function ";
constexpr char own_function[] = "iam.";

bool starts_with(const char* text, const char* prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

// Where the statement entry at `entry` ends (its closing quote) if it is a
// statement of one of the extension's PL/pgSQL functions; nullptr if it is
// anyone else's, or if it cannot be told for sure (then it stays).
const char* own_statement_end(const char* entry) {
    const char* end = strstr(entry + strlen(statement_entry) - 1, plpgsql_frame);
    if (end == nullptr || !starts_with(end + strlen(plpgsql_frame), own_function))
        return nullptr;
    // Another entry in between (a statement of an SQL function, or of C
    // code, called by the statement): the frame that follows is not this
    // statement's.
    for (const char* line = strchr(entry, '\n'); line != nullptr && line < end;
         line = strchr(line + 1, '\n'))
        if (starts_with(line + 1, "SQL ") || starts_with(line + 1, "PL/pgSQL function "))
            return nullptr;
    return end;
}

void drop_own_statements(ErrorData* edata) {
    const char* context = edata->context;
    if (context == nullptr || strstr(context, plpgsql_frame) == nullptr)
        return;
    StringInfoData kept;
    initStringInfo(&kept);
    bool dropped = false;
    const char* line = context;
    while (*line != '\0') {
        const char* next = nullptr;
        if (starts_with(line, statement_entry)) {
            const char* end = own_statement_end(line);
            if (end != nullptr) {
                next = end + 2;  // the closing quote and the line's end
                dropped = true;
            }
        }
        if (next == nullptr) {
            const char* end = strchr(line, '\n');
            next = end != nullptr ? end + 1 : line + strlen(line);
            if (kept.len > 0)
                appendStringInfoChar(&kept, '\n');
            appendBinaryStringInfo(&kept, line,
                                   static_cast<int>((end != nullptr ? end : next) - line));
        }
        line = next;
    }
    if (dropped)
        edata->context = kept.len > 0 ? kept.data : nullptr;
    else
        pfree(kept.data);
}

void filter_error_context(ErrorData* edata) {
    drop_own_statements(edata);
    if (previous_emit_log_hook != nullptr)
        previous_emit_log_hook(edata);
}

}  // namespace

void install_error_context_filter() {
    previous_emit_log_hook = emit_log_hook;
    emit_log_hook = filter_error_context;
}

}  // namespace iam::pg
