#include "core/uuid.hpp"

#include "core/hex.hpp"

#include <cstddef>

namespace iam {

namespace {}  // namespace

std::optional<Uuid> parse_uuid(std::string_view text) noexcept {
    size_t pos = 0;
    const bool braces = !text.empty() && text[0] == '{';
    if (braces)
        ++pos;

    Uuid uuid;
    for (size_t i = 0; i < uuid.bytes.size(); ++i) {
        if (text.size() - pos < 2)
            return std::nullopt;
        int high = hex_value(text[pos]);
        int low = hex_value(text[pos + 1]);
        if (high < 0 || low < 0)
            return std::nullopt;
        uuid.bytes[i] = static_cast<uint8_t>(high << 4 | low);
        pos += 2;
        // uuid_in allows a hyphen after every second byte but the last, and
        // at most one: "--" fails on the next byte's digits.
        if (i % 2 == 1 && i + 1 < uuid.bytes.size() && pos < text.size() && text[pos] == '-') {
            ++pos;
        }
    }
    if (braces) {
        if (pos == text.size() || text[pos] != '}')
            return std::nullopt;
        ++pos;
    }
    if (pos != text.size())
        return std::nullopt;
    return uuid;
}

std::string format_uuid(const Uuid& uuid) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(36);
    for (size_t i = 0; i < uuid.bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text += '-';
        text += digits[uuid.bytes[i] >> 4];
        text += digits[uuid.bytes[i] & 0x0f];
    }
    return text;
}

}  // namespace iam
