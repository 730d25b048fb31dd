// Referral codes: short, unguessable, and typo-proof without a table lookup.
// Pure C++ on libsodium; callers must have called sodium_init().
//
// Alphabet: Crockford's base 32, `0-9 A-Z` without I, L, O and U, so that a
// code read aloud or from paper has no look-alikes. The last character is a
// check character computed with Damm's algorithm over a totally
// anti-symmetric quasigroup of order 32: x * y = 2x + y in GF(2^5) (modulus
// x^5 + x^2 + 1). Each row and each column of that table is a permutation,
// so any single changed character changes the result; and (c * x) * y =
// (c * y) * x only when x = y, so any swap of two adjacent different
// characters, the check character included, changes it too. A code is valid
// when running every character through the table ends at 0.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace iam {

inline constexpr std::string_view referral_alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
inline constexpr int min_referral_code_length = 4;
inline constexpr int max_referral_code_length = 32;

// The quasigroup operation on alphabet positions 0..31.
int referral_damm_step(int interim, int digit) noexcept;

// The check character for a body of alphabet characters.
char referral_check_character(std::string_view body) noexcept;

// A new code of `length` characters in all, the check character included,
// from the CSPRNG of random_pool.hpp (5 bits of a random byte per
// character: 256 is a multiple of 32, so there is no modulo bias). Lengths outside 4..32 are
// an iam::Error with SQLSTATE 22023.
std::string generate_referral_code(int length);

// Whether a canonical code (alphabet characters only) ends in its check
// character.
bool has_valid_check_character(std::string_view code) noexcept;

// The text without leading and trailing spaces, tabs and line breaks.
std::string_view trim_whitespace(std::string_view text) noexcept;

// What someone typed, as a canonical code: whitespace and dashes dropped,
// letters upper-cased, O read as 0 and I, L as 1 (Crockford's rule). No value
// if anything else remains outside the alphabet, if the result is not 4 to
// 32 characters, or if the input is longer than any code could be typed
// (256 bytes).
std::optional<std::string> normalize_typed_code(std::string_view typed);

// A vanity code as stored: surrounding whitespace trimmed, upper-cased; 4 to 32
// characters of A-Z, 0-9 and '-', beginning and ending with a letter or
// digit, without two dashes in a row, and not readable as a generated code
// (normalize_typed_code of it passes the check character: about one in 32
// codes of alphabet characters). Anything else is an iam::Error 22023 naming
// the rule.
std::string normalize_vanity_code(std::string_view typed);

}  // namespace iam
