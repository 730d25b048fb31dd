// libFuzzer target: api_key_prefix accepts exactly the keys whose shape and
// checksum hold, restated here a second way (the checksum re-encoded rather
// than decoded); parse_api_key_hash accepts only the one spelling that
// hash_api_key writes; any bytes hash and verify against their own stored
// hash; and permission matching keeps its wildcard rules.
#include "core/api_key.hpp"

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_base62(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The rule: tag, 8 base-62, '_', 32 base-62, then the CRC-32 of all that
// written as 6 base-62 digits, most significant first.
bool key_rule_accepts(std::string_view text) {
    const size_t body_length = 4 + 8 + 1 + 32;
    if (text.size() != body_length + 6 || text.substr(0, 4) != "iam_" || text[12] != '_')
        return false;
    for (size_t i = 4; i < body_length; ++i)
        if (i != 12 && !is_base62(text[i]))
            return false;
    uint32_t crc = iam::crc32(text.substr(0, body_length));
    std::string checksum(6, '0');
    for (size_t i = 6; i-- > 0;) {
        checksum[i] = alphabet[crc % 62];
        crc /= 62;
    }
    return text.substr(body_length) == checksum;
}

// What hash_api_key would have written for this version and digest.
std::string stored_spelling(const iam::StoredApiKeyHash& hash) {
    char encoded[sodium_base64_ENCODED_LEN(sizeof(hash.digest),
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(encoded, sizeof(encoded), hash.digest.data(), hash.digest.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return "blake2b256$" + std::to_string(hash.pepper_version) + "$" + encoded;
}

iam::ApiKeyPepper pepper_of(unsigned char fill) {
    iam::ApiKeyPepper pepper;
    pepper.fill(fill);
    return pepper;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (sodium_init() < 0)
        abort();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    std::optional<std::string_view> prefix = iam::api_key_prefix(text);
    if (prefix.has_value() != key_rule_accepts(text))
        abort();
    if (prefix && (prefix->data() != text.data() + 4 || prefix->size() != 8))
        abort();

    std::optional<iam::StoredApiKeyHash> stored = iam::parse_api_key_hash(text);
    if (stored && (stored->pepper_version <= 0 || stored_spelling(*stored) != text))
        abort();

    // Whatever the bytes, their stored hash parses back and verifies with
    // its pepper only.
    int version = size > 0 ? 1 + data[0] * 8388607 : 1;  // up to INT_MAX - 8388608
    std::string hashed = iam::hash_api_key(text, pepper_of(7), version);
    std::optional<iam::StoredApiKeyHash> own = iam::parse_api_key_hash(hashed);
    if (!own || own->pepper_version != version || !iam::api_key_matches(text, *own, pepper_of(7)) ||
        iam::api_key_matches(text, *own, pepper_of(8)))
        abort();

    // The bytes up to the first NUL as a granted permission, the rest as a
    // wanted one.
    size_t nul = text.find('\0');
    std::string_view granted = text.substr(0, nul);
    std::string_view wanted = nul == std::string_view::npos ? text : text.substr(nul + 1);
    if (!iam::permission_covers("*", wanted))
        abort();
    if (iam::is_valid_permission(granted) && !iam::permission_covers(granted, granted))
        abort();
    if (iam::permission_covers(granted, wanted) && granted != "*" && granted != wanted) {
        // Only "<resource>:*" widens, and only to "<resource>:<something>".
        if (granted.size() < 2 || granted.substr(granted.size() - 2) != ":*" ||
            wanted.size() < granted.size() ||
            wanted.substr(0, granted.size() - 1) != granted.substr(0, granted.size() - 1))
            abort();
    }
    return 0;
}
