#include "api_key.hpp"

#include "alphabet.hpp"
#include "error.hpp"
#include "random_pool.hpp"

#include <sodium.h>

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

uint32_t crc32(std::string_view bytes) noexcept {
    static const auto table = [] {
        std::array<uint32_t, 256> entries{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int bit = 0; bit < 8; ++bit)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            entries[i] = c;
        }
        return entries;
    }();
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char byte : bytes)
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
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
    // libsodium 1.0.18 decodes bytes >= 0x80 as if they were base64 digits,
    // which would give one digest many spellings: check the alphabet first.
    for (char c : encoded)
        if (base62_value(c) < 0 && c != '-' && c != '_')
            return std::nullopt;
    size_t decoded = 0;
    if (sodium_base642bin(parsed.digest.data(), parsed.digest.size(), encoded.data(),
                          encoded.size(), nullptr, &decoded, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        decoded != parsed.digest.size())
        return std::nullopt;
    return parsed;
}

bool api_key_matches(std::string_view key, const StoredApiKeyHash& stored,
                     const ApiKeyPepper& pepper) noexcept {
    ApiKeyDigest digest = digest_of(key, pepper);
    bool same = sodium_memcmp(digest.data(), stored.digest.data(), digest.size()) == 0;
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
