// libFuzzer target: jwt_claim_sub never crashes, and whatever subject it
// reads is one it reads back unchanged from {"sub":...} written with
// minimal escaping and with every character escaped as \uXXXX.
#include "core/json_members.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void append_u_escape(std::string& out, uint32_t unit) {
    static constexpr char digits[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4)
        out += digits[unit >> shift & 0xF];
}

// Only what JSON requires: quote, backslash and control characters.
std::string json_minimal(std::string_view value) {
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            append_u_escape(out, static_cast<unsigned char>(c));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// Every code point as \uXXXX, surrogate pairs above U+FFFF. The value must
// be valid UTF-8 (it is, if jwt_claim_sub returned it); abort otherwise.
std::string json_all_escaped(std::string_view value) {
    std::string out = "\"";
    for (size_t i = 0; i < value.size();) {
        unsigned char lead = static_cast<unsigned char>(value[i]);
        size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        if (i + length > value.size())
            abort();
        uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
        for (size_t k = 1; k < length; ++k)
            code = code << 6 | (value[i + k] & 0x3F);
        if (code == 0)
            abort();  // jsonb has no U+0000
        if (code >= 0x10000) {
            append_u_escape(out, 0xD800 + ((code - 0x10000) >> 10));
            append_u_escape(out, 0xDC00 + ((code - 0x10000) & 0x3FF));
        } else {
            append_u_escape(out, code);
        }
        i += length;
    }
    return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view claims(reinterpret_cast<const char*>(data), size);
    std::optional<std::string> sub = iam::jwt_claim_sub(claims);

    std::optional<iam::Uuid> subject = iam::jwt_subject(claims);
    std::optional<iam::Uuid> expected = sub ? iam::parse_uuid(*sub) : std::nullopt;
    if (subject != expected)
        abort();
    if (!sub)
        return 0;

    if (iam::jwt_claim_sub("{\"sub\":" + json_minimal(*sub) + "}") != sub)
        abort();
    if (iam::jwt_claim_sub("{\"sub\":" + json_all_escaped(*sub) + "}") != sub)
        abort();
    // Accepted claims are one whole object: nothing may follow it.
    if (iam::jwt_claim_sub(std::string(claims) + "0"))
        abort();
    return 0;
}
