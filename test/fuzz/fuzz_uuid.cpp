// libFuzzer target: parse_uuid accepts exactly PostgreSQL's uuid_in
// spellings, restated here a second way (braces around 32 hex digits,
// hyphens only between groups of four), and what it accepts survives
// format_uuid and a second parse unchanged.
#include "core/uuid.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The rule without the byte loop: after optional matching braces, hex
// digits, and single hyphens at a multiple of four digits strictly inside.
bool uuid_in_accepts(std::string_view text) {
    if (!text.empty() && text.front() == '{') {
        if (text.size() < 2 || text.back() != '}')
            return false;
        text = text.substr(1, text.size() - 2);
    }
    size_t digits = 0;
    char previous = '\0';
    for (char c : text) {
        if (is_hex(c)) {
            ++digits;
        } else if (c == '-') {
            if (previous == '-' || digits == 0 || digits % 4 != 0 || digits >= 32)
                return false;
        } else {
            return false;
        }
        previous = c;
    }
    return digits == 32;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<iam::Uuid> uuid = iam::parse_uuid(text);
    if (uuid.has_value() != uuid_in_accepts(text))
        abort();
    if (!uuid)
        return 0;

    std::string canonical = iam::format_uuid(*uuid);
    if (canonical.size() != 36)
        abort();
    std::optional<iam::Uuid> again = iam::parse_uuid(canonical);
    if (!again || *again != *uuid)
        abort();

    // The canonical form is the input's digits, lower-cased.
    std::string digits;
    for (char c : text) {
        if (is_hex(c))
            digits += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    std::string canonical_digits;
    for (char c : canonical) {
        if (c != '-')
            canonical_digits += c;
    }
    if (digits != canonical_digits)
        abort();
    return 0;
}
