#include "core/api_key.hpp"

#include "core/alphabet.hpp"
#include "core/error.hpp"
#include "core/random_pool.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <limits>

namespace iam {
namespace {

constexpr std::string_view alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view hash_algorithm = "blake2b256$";
constexpr size_t max_permission_length = 200;

constexpr AlphabetPositions base62_values = positions_in(alphabet);

int base62_value(char c) noexcept {
    return position_in(base62_values, c);
}

void append_random(std::string& out, size_t count) {
    for (size_t i = 0; i < count; ++i)
        out += alphabet[random_below(static_cast<unsigned>(alphabet.size()))];
}

// Fixed width, most significant digit first: 62^6 > 2^32.
std::string checksum_of(std::string_view body) {
    uint32_t value = crc32(body);
    std::string digits(api_key_checksum_length, '0');
    for (size_t i = api_key_checksum_length; i-- > 0;) {
        digits[i] = alphabet[value % alphabet.size()];
        value /= alphabet.size();
    }
    return digits;
}

ApiKeyDigest digest_of(std::string_view key, const ApiKeyPepper& pepper) noexcept {
    ApiKeyDigest digest;
    crypto_generichash(digest.data(), digest.size(),
                       reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                       pepper.data(), pepper.size());
    return digest;
}

}  // namespace

namespace {

// Slicing-by-8 (Intel's method): table k gives the CRC of a byte followed
// by k zero bytes, so eight input bytes are folded in per step instead of
// one. Computed at compile time.
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;
constexpr CrcTables crc_tables = [] {
    CrcTables tables{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        tables[0][i] = c;
    }
    for (size_t k = 1; k < tables.size(); ++k)
        for (uint32_t i = 0; i < 256; ++i)
            tables[k][i] = (tables[k - 1][i] >> 8) ^ tables[0][tables[k - 1][i] & 0xFF];
    return tables;
}();

uint32_t little_endian_32(const unsigned char* bytes) noexcept {
    return uint32_t(bytes[0]) | uint32_t(bytes[1]) << 8 | uint32_t(bytes[2]) << 16 |
           uint32_t(bytes[3]) << 24;
}

}  // namespace

uint32_t crc32(std::string_view text) noexcept {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    size_t length = text.size();
    uint32_t crc = 0xFFFFFFFFu;
    const auto& t = crc_tables;
    for (; length >= 8; bytes += 8, length -= 8) {
        uint32_t low = crc ^ little_endian_32(bytes);
        uint32_t high = little_endian_32(bytes + 4);
        crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^ t[5][(low >> 16) & 0xFF] ^
              t[4][low >> 24] ^ t[3][high & 0xFF] ^ t[2][(high >> 8) & 0xFF] ^
              t[1][(high >> 16) & 0xFF] ^ t[0][high >> 24];
    }
    for (; length > 0; ++bytes, --length)
        crc = t[0][(crc ^ *bytes) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

GeneratedApiKey generate_api_key() {
    GeneratedApiKey generated;
    generated.key.reserve(api_key_length);
    generated.key = api_key_tag;
    append_random(generated.key, api_key_prefix_length);
    generated.prefix = generated.key.substr(api_key_tag.size());
    generated.key += '_';
    append_random(generated.key, api_key_secret_length);
    generated.key += checksum_of(generated.key);
    return generated;
}

std::optional<std::string_view> api_key_prefix(std::string_view key) noexcept {
    if (key.size() != api_key_length || key.substr(0, api_key_tag.size()) != api_key_tag)
        return std::nullopt;
    size_t separator = api_key_tag.size() + api_key_prefix_length;
    for (size_t i = api_key_tag.size(); i < key.size(); ++i)
        if (i != separator && base62_value(key[i]) < 0)
            return std::nullopt;
    if (key[separator] != '_')
        return std::nullopt;
    size_t body_length = api_key_length - api_key_checksum_length;
    uint64_t checksum = 0;
    for (char c : key.substr(body_length))
        checksum = checksum * alphabet.size() + static_cast<uint64_t>(base62_value(c));
    if (checksum != crc32(key.substr(0, body_length)))
        return std::nullopt;
    return key.substr(api_key_tag.size(), api_key_prefix_length);
}

std::string hash_api_key(std::string_view key, const ApiKeyPepper& pepper, int pepper_version) {
    if (pepper_version <= 0)
        throw Error(sqlstate::invalid_parameter_value, "a pepper version is a positive integer");
    ApiKeyDigest digest = digest_of(key, pepper);
    char encoded[sodium_base64_ENCODED_LEN(sizeof(ApiKeyDigest),
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(encoded, sizeof(encoded), digest.data(), digest.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(digest.data(), digest.size());
    return std::string(hash_algorithm) + std::to_string(pepper_version) + "$" + encoded;
}

namespace {

// The value of each byte as a base64url digit, or -1. A table, not
// comparisons: digits of a digest are random, and branches on them are
// mispredicted half the time.
constexpr std::array<int8_t, 256> base64url_values = [] {
    std::array<int8_t, 256> values{};
    for (auto& value : values)
        value = -1;
    constexpr std::string_view digits =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < digits.size(); ++i)
        values[static_cast<unsigned char>(digits[i])] = static_cast<int8_t>(i);
    return values;
}();

// Decodes the 43 base64url digits of a stored digest, refusing any other
// spelling of it (the two bits left over must be zero), so that a digest has
// exactly one. This runs on every verification, where libsodium's decoder,
// built to be constant-time for secrets, was a twentieth of the time; what
// it decodes is the stored hash, which the caller neither chooses nor sees.
bool decode_digest(std::string_view encoded, ApiKeyDigest* digest) noexcept {
    uint32_t bits = 0;
    int bit_count = 0;
    size_t written = 0;
    for (char c : encoded) {
        int value = base64url_values[static_cast<unsigned char>(c)];
        if (value < 0)
            return false;
        bits = (bits << 6) | static_cast<uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (written == digest->size())
                return false;
            (*digest)[written++] = static_cast<unsigned char>(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }
    return written == digest->size() && bits == 0;
}

}  // namespace

std::optional<StoredApiKeyHash> parse_api_key_hash(std::string_view stored) noexcept {
    constexpr size_t encoded_length = 43;  // 32 bytes, base64url without padding
    // Every version hash_api_key accepts, up to INT_MAX (ten digits): the
    // peppers' version column allows any positive integer.
    constexpr size_t max_version_digits = std::numeric_limits<int>::digits10 + 1;
    if (stored.size() > hash_algorithm.size() + max_version_digits + 1 + encoded_length ||
        stored.substr(0, hash_algorithm.size()) != hash_algorithm)
        return std::nullopt;
    stored.remove_prefix(hash_algorithm.size());
    size_t dollar = stored.find('$');
    if (dollar == 0 || dollar == std::string_view::npos || dollar > max_version_digits ||
        stored[0] == '0')
        return std::nullopt;
    int64_t version = 0;
    for (char c : stored.substr(0, dollar)) {
        if (c < '0' || c > '9')
            return std::nullopt;
        version = version * 10 + (c - '0');
    }
    if (version > std::numeric_limits<int>::max())
        return std::nullopt;
    StoredApiKeyHash parsed{};
    parsed.pepper_version = static_cast<int>(version);
    std::string_view encoded = stored.substr(dollar + 1);
    if (encoded.size() != encoded_length)
        return std::nullopt;
    if (!decode_digest(encoded, &parsed.digest))
        return std::nullopt;
    return parsed;
}

bool api_key_matches(std::string_view key, const StoredApiKeyHash& stored,
                     const ApiKeyPepper& pepper) noexcept {
    ApiKeyDigest digest = digest_of(key, pepper);
    static_assert(sizeof(ApiKeyDigest) == crypto_verify_32_BYTES);
    bool same = crypto_verify_32(digest.data(), stored.digest.data()) == 0;  // constant time
    sodium_memzero(digest.data(), digest.size());
    return same;
}

bool permission_covers(std::string_view granted, std::string_view wanted) noexcept {
    if (granted == "*")
        return true;
    if (granted.size() >= 2 && granted.substr(granted.size() - 2) == ":*") {
        std::string_view resource = granted.substr(0, granted.size() - 1);  // "courses:"
        return wanted.size() > resource.size() && wanted.substr(0, resource.size()) == resource;
    }
    return granted == wanted;
}

bool is_valid_permission(std::string_view permission) noexcept {
    if (permission.empty() || permission.size() > max_permission_length)
        return false;
    for (size_t i = 0; i < permission.size(); ++i) {
        char c = permission[i];
        if (c <= ' ' || c > '~')
            return false;
        if (c == '*' && !(permission.size() == 1 ||
                          (i == permission.size() - 1 && i > 0 && permission[i - 1] == ':')))
            return false;
    }
    return true;
}

}  // namespace iam
