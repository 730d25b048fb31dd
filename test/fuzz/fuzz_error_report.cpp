// libFuzzer target: whatever SQLSTATE and message an iam::Error is built
// with, the report handed to PostgreSQL carries a valid SQLSTATE and the
// message as the C string PostgreSQL will print (cut at a NUL byte).
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* bytes = reinterpret_cast<const char*>(data);
    size_t split = size < 6 ? size : 6;
    std::string sqlstate(bytes, split);
    std::string message(bytes + split, size - split);
    try {
        throw iam::Error(sqlstate, message);
    } catch (...) {
        iam::ErrorReport report = iam::describe_current_exception();
        if (!iam::is_valid_sqlstate(report.sqlstate))
            abort();
        if (report.message != message.substr(0, message.find('\0')))
            abort();
        if (iam::is_valid_sqlstate(sqlstate) && report.sqlstate != sqlstate)
            abort();
    }
    return 0;
}
