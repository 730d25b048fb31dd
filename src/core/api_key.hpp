// API keys: their shape, their checksum, their keyed hash, and permission
// matching. Pure C++ on libsodium; callers must have called sodium_init()
// (the extension does in _PG_init).
//
// A key is `iam_<key_prefix>_<secret><checksum>`, 51 characters of [0-9A-Za-z]
// and two underscores, so it survives URLs, shells and double-click
// selection:
//   iam_        a fixed tag, for secret scanners and for people
//   key_prefix  8 random characters, stored in clear (unique) to find the row
//   secret      32 random characters: 32 * log2(62) = 190.5 bits
//   checksum    CRC-32 of everything before it, as 6 base-62 digits, so that
//               a typo or a truncated paste is rejected without a lookup
// The stored hash is keyed BLAKE2b-256 of the whole key with a server secret
// (pepper), written `blake2b256$<pepper version>$<base64url, no padding>` so
// that the algorithm and the pepper can change without breaking old keys.
// A high-entropy key needs no slow hash: keyed BLAKE2b makes a stolen table
// useless without the pepper, and keeps verification fast.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iam {

inline constexpr std::string_view api_key_tag = "iam_";
inline constexpr size_t api_key_prefix_length = 8;
inline constexpr size_t api_key_secret_length = 32;
inline constexpr size_t api_key_checksum_length = 6;
inline constexpr size_t api_key_length = api_key_tag.size() + api_key_prefix_length + 1 +
                                         api_key_secret_length + api_key_checksum_length;

using ApiKeyPepper = std::array<unsigned char, 32>;
using ApiKeyDigest = std::array<unsigned char, 32>;

struct GeneratedApiKey {
    std::string key;     // shown once to its owner, never stored
    std::string prefix;  // stored in api_keys.key_prefix
};

// A new key from the CSPRNG of random_pool.hpp (uniform over the alphabet:
// no modulo bias).
GeneratedApiKey generate_api_key();

// The key_prefix of a well-formed key with a valid checksum; nullopt for
// anything else, decided in time proportional to at most api_key_length.
std::optional<std::string_view> api_key_prefix(std::string_view key) noexcept;

// The stored form of the key's hash with this pepper.
std::string hash_api_key(std::string_view key, const ApiKeyPepper& pepper, int pepper_version);

struct StoredApiKeyHash {
    int pepper_version;
    ApiKeyDigest digest;
};

// Parses a stored hash; nullopt if it is not one this version writes.
std::optional<StoredApiKeyHash> parse_api_key_hash(std::string_view stored) noexcept;

// Whether the key hashes to `stored` with `pepper` (compared in constant
// time).
bool api_key_matches(std::string_view key, const StoredApiKeyHash& stored,
                     const ApiKeyPepper& pepper) noexcept;

// Whether a permission granted to a key covers the one asked for: "*"
// covers everything, "courses:*" covers "courses:<anything>" (not
// "courses" itself), anything else only itself.
bool permission_covers(std::string_view granted, std::string_view wanted) noexcept;

// Whether a string may be a permission: 1 to 200 printable ASCII characters
// without spaces, `*` only as the whole permission or after a final `:`.
bool is_valid_permission(std::string_view permission) noexcept;

// Bounds of what a key is created with: a name is for people to read, and a
// key's permissions are checked one by one at every has_permission().
inline constexpr int max_api_key_name_characters = 200;
inline constexpr int max_api_key_permissions = 100;

// The CRC-32 (IEEE 802.3, as zlib computes it) of the bytes.
uint32_t crc32(std::string_view bytes) noexcept;

}  // namespace iam
