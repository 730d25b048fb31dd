#include "core/error.hpp"

#include <new>
#include <utility>

namespace iam {

bool is_valid_sqlstate(std::string_view code) noexcept {
    if (code.size() != 5)
        return false;
    for (char c : code) {
        bool digit = c >= '0' && c <= '9';
        bool upper = c >= 'A' && c <= 'Z';
        if (!digit && !upper)
            return false;
    }
    return true;
}

Error::Error(std::string_view sqlstate, const std::string& message, std::string detail,
             std::string hint)
    : std::runtime_error(message),
      sqlstate_(is_valid_sqlstate(sqlstate) ? sqlstate : sqlstate::internal_error),
      detail_(std::move(detail)),
      hint_(std::move(hint)) {}

ErrorReport describe_current_exception() noexcept {
    try {
        try {
            throw;
        } catch (const Error& e) {
            return {e.sqlstate(), e.what(), e.detail(), e.hint()};
        } catch (const std::bad_alloc&) {
            return {std::string(sqlstate::out_of_memory), "out of memory", {}, {}};
        } catch (const std::exception& e) {
            return {std::string(sqlstate::internal_error),
                    std::string("unexpected C++ exception: ") + e.what(),
                    {},
                    {}};
        } catch (...) {
            return {std::string(sqlstate::internal_error), "unexpected C++ exception", {}, {}};
        }
    } catch (...) {
        // Building the report itself failed, which only running out of memory
        // can do. Both strings fit std::string's inline buffer: no allocation.
        return {std::string(sqlstate::out_of_memory), "out of memory", {}, {}};
    }
}

}  // namespace iam
