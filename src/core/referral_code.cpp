#include "core/referral_code.hpp"

#include "core/alphabet.hpp"
#include "core/error.hpp"
#include "core/random_pool.hpp"

#include <sodium.h>

#include <array>

namespace iam {
namespace {

constexpr size_t max_typed_length = 256;

// Multiplication by 2 (the polynomial x) in GF(2^5) modulo x^5 + x^2 + 1.
constexpr int times_two(int value) {
    value <<= 1;
    return (value & 0x20) != 0 ? (value ^ 0x25) : value;
}

constexpr AlphabetPositions alphabet_positions = positions_in(referral_alphabet);

int position_of(char c) noexcept {
    return position_in(alphabet_positions, c);
}

int run(std::string_view code) noexcept {
    int interim = 0;
    for (char c : code)
        interim = referral_damm_step(interim, position_of(c));
    return interim;
}

bool is_whitespace(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

Error invalid(const std::string& message) {
    return Error(sqlstate::invalid_parameter_value, message);
}

}  // namespace

std::string_view trim_whitespace(std::string_view text) noexcept {
    while (!text.empty() && is_whitespace(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_whitespace(text.back()))
        text.remove_suffix(1);
    return text;
}

int referral_damm_step(int interim, int digit) noexcept {
    return times_two(interim) ^ digit;
}

char referral_check_character(std::string_view body) noexcept {
    // The c with step(interim, c) = 0: 2 * interim XOR c = 0.
    return referral_alphabet[static_cast<size_t>(times_two(run(body)))];
}

std::string generate_referral_code(int length) {
    if (length < min_referral_code_length || length > max_referral_code_length)
        throw invalid("a referral code has 4 to 32 characters, not " + std::to_string(length));
    std::array<unsigned char, max_referral_code_length> random;
    random_bytes(random.data(), static_cast<size_t>(length - 1));
    std::string code;
    code.reserve(static_cast<size_t>(length));
    for (int i = 0; i < length - 1; ++i)
        code += referral_alphabet[random[static_cast<size_t>(i)] & 31];
    code += referral_check_character(code);
    return code;
}

bool has_valid_check_character(std::string_view code) noexcept {
    if (code.empty())
        return false;
    for (char c : code)
        if (position_of(c) < 0)
            return false;
    return run(code) == 0;
}

std::optional<std::string> normalize_typed_code(std::string_view typed) {
    if (typed.size() > max_typed_length)
        return std::nullopt;
    std::string code;
    for (char c : typed) {
        if (is_whitespace(c) || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
        if (c == 'O')
            c = '0';
        else if (c == 'I' || c == 'L')
            c = '1';
        if (position_of(c) < 0)
            return std::nullopt;
        code += c;
    }
    if (code.size() < min_referral_code_length || code.size() > max_referral_code_length)
        return std::nullopt;
    return code;
}

std::string normalize_vanity_code(std::string_view typed) {
    typed = trim_whitespace(typed);
    if (typed.size() < min_referral_code_length || typed.size() > max_referral_code_length)
        throw invalid("a referral code has 4 to 32 characters");
    std::string code;
    for (char c : typed) {
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
        bool letter_or_digit = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!letter_or_digit && c != '-')
            throw invalid("a referral code has only letters, digits and dashes");
        if (c == '-' && (code.empty() || code.back() == '-'))
            throw invalid("a referral code does not begin with a dash or have two in a row");
        code += c;
    }
    if (code.back() == '-')
        throw invalid("a referral code does not end with a dash");
    // Typed with a dash or look-alikes, such a code would also be some
    // generated code: it could take the redemptions meant for its owner.
    if (auto as_typed = normalize_typed_code(code);
        as_typed && has_valid_check_character(*as_typed))
        throw invalid("this code reads as a generated referral code; choose another");
    return code;
}

}  // namespace iam
