// API keys: the shape and checksum that let anyone reject garbage without a
// table lookup, the keyed hash that makes a stolen table useless, and the
// permission wildcards.
#include "catch.hpp"

#include "core/api_key.hpp"
#include "core/error.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>

namespace {

const std::string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

iam::ApiKeyPepper pepper_of(unsigned char fill) {
    iam::ApiKeyPepper pepper;
    pepper.fill(fill);
    return pepper;
}

}  // namespace

TEST_CASE("crc32 is the IEEE CRC-32 that zlib computes") {
    CHECK(iam::crc32("") == 0u);
    CHECK(iam::crc32("123456789") == 0xCBF43926u);  // the standard check value
    CHECK(iam::crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
}

TEST_CASE("a generated key has the documented shape and parses back to its prefix") {
    for (int i = 0; i < 1000; ++i) {
        auto generated = iam::generate_api_key();
        CAPTURE(generated.key);
        REQUIRE(generated.key.size() == iam::api_key_length);
        CHECK(generated.key.size() == 51);
        CHECK(generated.key.substr(0, 4) == "iam_");
        CHECK(generated.key[12] == '_');
        CHECK(generated.prefix == generated.key.substr(4, 8));
        for (size_t j = 4; j < generated.key.size(); ++j)
            if (j != 12)
                CHECK(alphabet.find(generated.key[j]) != std::string::npos);
        auto prefix = iam::api_key_prefix(generated.key);
        REQUIRE(prefix);
        CHECK(*prefix == generated.prefix);
    }
}

TEST_CASE("keys and prefixes do not repeat") {
    std::set<std::string> keys, prefixes;
    for (int i = 0; i < 20000; ++i) {
        auto generated = iam::generate_api_key();
        keys.insert(generated.key);
        prefixes.insert(generated.prefix);
    }
    CHECK(keys.size() == 20000);
    CHECK(prefixes.size() == 20000);  // 62^8: a repeat here would mean a broken generator
}

TEST_CASE("the random characters are uniform over the alphabet") {
    // Chi-square over the 40 random characters of 5,000 keys (200,000
    // draws, 61 degrees of freedom): the 99.999th percentile is about 125;
    // a modulo-biased generator scores in the thousands.
    std::map<char, double> counts;
    const int keys = 5000;
    for (int i = 0; i < keys; ++i) {
        auto key = iam::generate_api_key().key;
        for (size_t j = 4; j < 4 + 8 + 1 + 32; ++j)
            if (j != 12)
                counts[key[j]] += 1;
    }
    double expected = keys * 40.0 / 62.0, chi_square = 0;
    for (char c : alphabet)
        chi_square += std::pow(counts[c] - expected, 2) / expected;
    CHECK(counts.size() == 62);
    CHECK(chi_square < 125);
}

TEST_CASE("every single-character change of a key is rejected") {
    auto key = iam::generate_api_key().key;
    const std::string candidates = alphabet + "_-+/=. \x01\xff";
    int tried = 0;
    for (size_t position = 0; position < key.size(); ++position) {
        for (char c : candidates) {
            if (c == key[position])
                continue;
            std::string changed = key;
            changed[position] = c;
            CAPTURE(position, c);
            CHECK_FALSE(iam::api_key_prefix(changed));
            ++tried;
        }
    }
    CHECK(tried > 3000);
}

TEST_CASE("malformed keys are rejected") {
    auto key = iam::generate_api_key().key;
    const std::string rejected[] = {
        "",
        "iam_",
        key.substr(0, key.size() - 1),  // truncated
        key + "A",                      // extended
        "IAM_" + key.substr(4),         // tag
        "xyz_" + key.substr(4),
        key.substr(0, 12) + "-" + key.substr(13),  // separator
        std::string(key.size(), 'a'),
        std::string(1 << 20, 'a'),  // a megabyte
        key.substr(0, 20) + std::string(1, '\0') + key.substr(21),
        " " + key.substr(1),
    };
    for (const auto& text : rejected) {
        CAPTURE(text.substr(0, 60));
        CHECK_FALSE(iam::api_key_prefix(text));
    }
}

TEST_CASE("known vector: the checksum is zlib's CRC-32 in six base-62 digits") {
    // zlib.crc32(body) == 0x05C7A8F1, as Python computes it.
    const std::string key = "iam_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB06YsaH";
    auto prefix = iam::api_key_prefix(key);
    REQUIRE(prefix);
    CHECK(*prefix == "AAAAAAAA");
    // 62^6 > 2^33: the same CRC plus 2^32 fits the six digits, and must not
    // pass as its 32-bit truncation.
    CHECK_FALSE(iam::api_key_prefix("iam_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB4nE7mL"));
}

TEST_CASE("the stored hash is keyed, self-describing and round-trips") {
    auto key = iam::generate_api_key().key;
    auto stored = iam::hash_api_key(key, pepper_of(1), 3);
    CHECK(stored.substr(0, 13) == "blake2b256$3$");
    CHECK(stored.size() == 13 + 43);
    CHECK(stored == iam::hash_api_key(key, pepper_of(1), 3));  // deterministic
    CHECK(stored != iam::hash_api_key(key, pepper_of(2), 3));  // keyed
    auto parsed = iam::parse_api_key_hash(stored);
    REQUIRE(parsed);
    CHECK(parsed->pepper_version == 3);
    CHECK(iam::api_key_matches(key, *parsed, pepper_of(1)));
    CHECK_FALSE(iam::api_key_matches(key, *parsed, pepper_of(2)));
    CHECK_FALSE(iam::api_key_matches(iam::generate_api_key().key, *parsed, pepper_of(1)));
    CHECK_THROWS_AS(iam::hash_api_key(key, pepper_of(1), 0), iam::Error);
}

TEST_CASE("known vectors: keyed BLAKE2b-256, as Python's hashlib computes it") {
    // hashlib.blake2b(data, key=key, digest_size=32), base64url without padding.
    CHECK(iam::hash_api_key("iam_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB000000", pepper_of(1),
                            1) == "blake2b256$1$pgtPyWnYPT-Wu1CuQsEUPtVnR90I033plnRzOx-81eE");
    iam::ApiKeyPepper counting;
    for (size_t i = 0; i < counting.size(); ++i)
        counting[i] = static_cast<unsigned char>(i);
    CHECK(iam::hash_api_key("abc", counting, 7) ==
          "blake2b256$7$1joy0-RHONeQf5ZDFsJBraugq_6rwyNJZ3V4oVogP38");
}

TEST_CASE("malformed stored hashes are rejected") {
    auto good = iam::hash_api_key(iam::generate_api_key().key, pepper_of(1), 12);
    const std::string rejected[] = {
        "",
        "blake2b256$",
        "blake2b256$$" + good.substr(14),
        "blake2b256$0$" + good.substr(14),
        "blake2b256$012$" + good.substr(14),
        "blake2b256$x$" + good.substr(14),
        "blake2b256$2147483648$" + good.substr(14),  // INT_MAX + 1
        "sha256$12$" + good.substr(14),
        good.substr(0, good.size() - 1),
        good + "A",
        good.substr(0, good.size() - 1) + "=",
        good.substr(0, good.size() - 1) + "+",
    };
    for (const auto& text : rejected) {
        CAPTURE(text);
        CHECK_FALSE(iam::parse_api_key_hash(text));
    }
    CHECK(iam::parse_api_key_hash(good)->pepper_version == 12);
}

TEST_CASE("the pepper version is a label: the pepper alone keys the digest") {
    auto key = iam::generate_api_key().key;
    auto one = iam::hash_api_key(key, pepper_of(1), 1);
    auto two = iam::hash_api_key(key, pepper_of(1), 2);
    CHECK(one != two);
    auto parsed_one = iam::parse_api_key_hash(one);
    auto parsed_two = iam::parse_api_key_hash(two);
    REQUIRE(parsed_one);
    REQUIRE(parsed_two);
    CHECK(parsed_one->pepper_version == 1);
    CHECK(parsed_two->pepper_version == 2);
    CHECK(parsed_one->digest == parsed_two->digest);
}

TEST_CASE("every pepper version hash_api_key writes parses back") {
    // The peppers' version column takes any positive integer, so a stored
    // hash this version writes must never be one it cannot read.
    auto key = iam::generate_api_key().key;
    for (int version : {1, 9, 10, 999999999, 1000000000, std::numeric_limits<int>::max()}) {
        CAPTURE(version);
        auto stored = iam::hash_api_key(key, pepper_of(4), version);
        auto parsed = iam::parse_api_key_hash(stored);
        REQUIRE(parsed);
        CHECK(parsed->pepper_version == version);
        CHECK(iam::api_key_matches(key, *parsed, pepper_of(4)));
    }
    CHECK_THROWS_AS(iam::hash_api_key(key, pepper_of(4), -1), iam::Error);
    auto encoded = iam::hash_api_key(key, pepper_of(4), 1).substr(13);
    for (const char* version : {"2147483648", "9999999999", "12345678901", "-1", "+1", " 1"}) {
        CAPTURE(version);
        CHECK_FALSE(iam::parse_api_key_hash("blake2b256$" + std::string(version) + "$" + encoded));
    }
}

TEST_CASE("a stored hash has one spelling") {
    auto good = iam::hash_api_key(iam::generate_api_key().key, pepper_of(5), 1);
    // The last of 43 characters carries 4 bits and 2 zero bits: setting a
    // zero bit would decode to the same digest, so it is refused.
    const std::string base64url =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t last = base64url.find(good.back());
    REQUIRE(last != std::string::npos);
    REQUIRE(last % 4 == 0);
    for (size_t low_bits = 1; low_bits < 4; ++low_bits) {
        std::string changed = good;
        changed.back() = base64url[last + low_bits];
        CAPTURE(changed);
        CHECK_FALSE(iam::parse_api_key_hash(changed));
    }
    // libsodium 1.0.18 alone would decode these as base64 digits.
    for (char high : {'\x80', '\x99', '\xc3', '\xff'}) {
        std::string changed = good;
        changed[30] = high;
        CAPTURE(changed);
        CHECK_FALSE(iam::parse_api_key_hash(changed));
    }
    std::string with_nul = good;
    with_nul[20] = '\0';
    CHECK_FALSE(iam::parse_api_key_hash(with_nul));
    CHECK_FALSE(iam::parse_api_key_hash(good + std::string(1 << 20, 'A')));
    CHECK_FALSE(iam::parse_api_key_hash("blake2b256$" + std::string(1 << 20, '1')));
}

TEST_CASE("permission wildcards") {
    CHECK(iam::permission_covers("*", "courses:read"));
    CHECK(iam::permission_covers("courses:*", "courses:read"));
    CHECK(iam::permission_covers("courses:*", "courses:write:all"));
    CHECK_FALSE(iam::permission_covers("courses:*", "courses"));
    CHECK_FALSE(iam::permission_covers("courses:*", "courses:"));
    CHECK_FALSE(iam::permission_covers("courses:*", "coursesX:read"));
    CHECK_FALSE(iam::permission_covers("courses:*", "users:read"));
    CHECK(iam::permission_covers("courses:read", "courses:read"));
    CHECK_FALSE(iam::permission_covers("courses:read", "courses:write"));
    CHECK_FALSE(iam::permission_covers("courses:read", "courses:*"));
}

TEST_CASE("what a permission may look like") {
    for (const char* valid : {"*", "courses:*", "courses:read", "a", "reports:2026:*"}) {
        CAPTURE(valid);
        CHECK(iam::is_valid_permission(valid));
    }
    for (const std::string& invalid :
         {std::string(), std::string("courses read"), std::string("*:read"), std::string("cour*"),
          std::string(":*x"), std::string("**"), std::string(201, 'a'), std::string("tab\tbed"),
          std::string("caf\xc3\xa9")}) {
        CAPTURE(invalid);
        CHECK_FALSE(iam::is_valid_permission(invalid));
    }
}
