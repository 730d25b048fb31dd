// Hexadecimal digits, for the parsers of the core. Not std::isxdigit: that
// depends on the C locale, and the formats we parse do not.
#pragma once

namespace iam {

// The value of a hexadecimal digit of either case, or -1.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace iam
