// Referral codes: the check character must catch every single mistyped
// character and every swap of two adjacent characters, proved here over the
// whole table and checked on random codes of every length.
#include "catch.hpp"

#include "core/error.hpp"
#include "core/referral_code.hpp"

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>
#include <array>

namespace {

const std::string alphabet(iam::referral_alphabet);

}  // namespace

TEST_CASE("the alphabet is Crockford's base 32") {
    CHECK(alphabet.size() == 32);
    for (char excluded : std::string("ILOU"))
        CHECK(alphabet.find(excluded) == std::string::npos);
    CHECK(std::set<char>(alphabet.begin(), alphabet.end()).size() == 32);
}

TEST_CASE("the check table is a quasigroup: every row and column a permutation") {
    for (int fixed = 0; fixed < 32; ++fixed) {
        std::set<int> row, column;
        for (int other = 0; other < 32; ++other) {
            row.insert(iam::referral_damm_step(fixed, other));
            column.insert(iam::referral_damm_step(other, fixed));
        }
        CHECK(row.size() == 32);
        CHECK(column.size() == 32);
    }
}

TEST_CASE("the check table is totally anti-symmetric") {
    // (c * x) * y == (c * y) * x only when x == y: what makes every adjacent
    // swap visible, wherever it is in the code.
    int pairs = 0;
    for (int c = 0; c < 32; ++c)
        for (int x = 0; x < 32; ++x)
            for (int y = 0; y < 32; ++y) {
                if (x == y)
                    continue;
                ++pairs;
                CHECK(iam::referral_damm_step(iam::referral_damm_step(c, x), y) !=
                      iam::referral_damm_step(iam::referral_damm_step(c, y), x));
            }
    CHECK(pairs == 32 * 32 * 31);
}

TEST_CASE("generated codes have the asked length, the alphabet and a valid check character") {
    for (int length = iam::min_referral_code_length; length <= iam::max_referral_code_length;
         ++length) {
        for (int i = 0; i < 50; ++i) {
            auto code = iam::generate_referral_code(length);
            CAPTURE(code);
            REQUIRE(code.size() == static_cast<size_t>(length));
            for (char c : code)
                CHECK(alphabet.find(c) != std::string::npos);
            CHECK(iam::has_valid_check_character(code));
        }
    }
    CHECK_THROWS_AS(iam::generate_referral_code(3), iam::Error);
    CHECK_THROWS_AS(iam::generate_referral_code(33), iam::Error);
    CHECK_THROWS_AS(iam::generate_referral_code(-1), iam::Error);
}

TEST_CASE("every code of 4 characters: every error detected, in or with the check character too") {
    // Validation runs a state machine over 32 states, so the 32^3 bodies of 4
    // character codes reach every state before the last body character and
    // the check character: this covers a wrong check character and the swap
    // of the last body character with it, for every code of every length.
    long valid = 0, missed = 0, errors = 0;
    std::string body(3, '0');
    for (int n = 0; n < 32 * 32 * 32; ++n) {
        body[0] = alphabet[static_cast<size_t>(n / 1024)];
        body[1] = alphabet[static_cast<size_t>(n / 32 % 32)];
        body[2] = alphabet[static_cast<size_t>(n % 32)];
        const std::string code = body + iam::referral_check_character(body);
        valid += iam::has_valid_check_character(code);
        for (size_t position = 0; position < code.size(); ++position) {
            for (char c : alphabet) {
                if (c == code[position])
                    continue;
                std::string changed = code;
                changed[position] = c;
                ++errors;
                missed += iam::has_valid_check_character(changed);
            }
            if (position + 1 < code.size() && code[position] != code[position + 1]) {
                std::string swapped = code;
                std::swap(swapped[position], swapped[position + 1]);
                ++errors;
                missed += iam::has_valid_check_character(swapped);
            }
        }
    }
    CHECK(valid == 32 * 32 * 32);
    CHECK(errors > 32 * 32 * 32 * 4 * 31);
    CHECK(missed == 0);
}

TEST_CASE("every single substitution and adjacent transposition is detected") {
    long substitutions = 0, transpositions = 0;
    for (int length : {4, 5, 8, 12, 32}) {
        for (int i = 0; i < 40; ++i) {
            auto code = iam::generate_referral_code(length);
            for (size_t position = 0; position < code.size(); ++position) {
                for (char c : alphabet) {
                    if (c == code[position])
                        continue;
                    std::string changed = code;
                    changed[position] = c;
                    ++substitutions;
                    if (iam::has_valid_check_character(changed))
                        FAIL_CHECK("substitution not detected: " << code << " -> " << changed);
                }
                if (position + 1 < code.size() && code[position] != code[position + 1]) {
                    std::string swapped = code;
                    std::swap(swapped[position], swapped[position + 1]);
                    ++transpositions;
                    if (iam::has_valid_check_character(swapped))
                        FAIL_CHECK("transposition not detected: " << code << " -> " << swapped);
                }
            }
        }
    }
    CHECK(substitutions > 50000);
    CHECK(transpositions > 1500);
}

TEST_CASE("generated characters are uniform over the alphabet") {
    // Chi-square over 20,000 codes of 8 (140,000 random characters, 31
    // degrees of freedom): a fair generator exceeds 100 once in 300 million
    // runs, while one character never drawn adds 4,375 on its own.
    std::map<char, double> counts;
    const int codes = 20000;
    for (int i = 0; i < codes; ++i) {
        auto code = iam::generate_referral_code(8);
        for (size_t j = 0; j + 1 < code.size(); ++j)
            counts[code[j]] += 1;
    }
    double expected = codes * 7.0 / 32.0, chi_square = 0;
    for (char c : alphabet)
        chi_square += std::pow(counts[c] - expected, 2) / expected;
    CHECK(counts.size() == 32);
    CHECK(chi_square < 100);
}

TEST_CASE("what people type is normalised before the check") {
    const std::pair<const char*, const char*> typed[] = {
        {"abcd", "ABCD"},
        {" 7K3M-9Q2X ", "7K3M9Q2X"},
        {"7k3m 9q2x", "7K3M9Q2X"},
        {"O0o0", "0000"},
        {"IiLl", "1111"},
        {"1-2-3-4", "1234"},
        {"\t7K3M\t9Q2X", "7K3M9Q2X"},
        {"7K3M9Q2X\r\n", "7K3M9Q2X"},
    };
    for (const auto& [input, canonical] : typed) {
        CAPTURE(input);
        auto code = iam::normalize_typed_code(input);
        REQUIRE(code);
        CHECK(*code == canonical);
    }
    for (const std::string& invalid :
         {std::string("abc"), std::string("UUUU"), std::string("7K3M_9Q2X"),
          std::string("7K3M.9Q2X"), std::string(33, 'A'), std::string(300, 'A'),
          std::string("caf\xc3\xa9"), std::string("AB\0CD", 5), std::string("----")}) {
        CAPTURE(invalid);
        CHECK_FALSE(iam::normalize_typed_code(invalid));
    }
    // A typed code, however spelt, checks as the code.
    auto code = iam::generate_referral_code(8);
    std::string spelt = code.substr(0, 4) + "-" + code.substr(4);
    for (char& c : spelt)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(iam::has_valid_check_character(*iam::normalize_typed_code(spelt)));
}

TEST_CASE("vanity codes") {
    CHECK(iam::normalize_vanity_code("spring-2026") == "SPRING-2026");
    CHECK(iam::normalize_vanity_code("  Bootcamp ") == "BOOTCAMP");
    CHECK(iam::normalize_vanity_code("\tspring-2026\r\n") == "SPRING-2026");  // pasted
    CHECK(iam::normalize_vanity_code("A1B2") == "A1B2");
    for (const std::string& invalid :
         {std::string("abc"), std::string(33, 'A'), std::string("-spring"), std::string("spring-"),
          std::string("spring--2026"), std::string("spring_2026"), std::string("spring 2026"),
          std::string("caf\xc3\xa9s"), std::string("     ")}) {
        CAPTURE(invalid);
        CHECK_THROWS_AS(iam::normalize_vanity_code(invalid), iam::Error);
    }
}

TEST_CASE("a vanity code never reads as a generated code") {
    // Spelt as people type a generated code (a dash, lower case, O for 0),
    // it would take the redemptions meant for that code's owner.
    for (int i = 0; i < 200; ++i) {
        auto generated = iam::generate_referral_code(8);
        std::string spelt = generated.substr(0, 4) + "-" + generated.substr(4);
        for (char& c : spelt)
            c = c == '0' ? 'o' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        CAPTURE(spelt);
        CHECK_THROWS_AS(iam::normalize_vanity_code(spelt), iam::Error);
        CHECK_THROWS_AS(iam::normalize_vanity_code(generated), iam::Error);
    }
    // About one in 32 codes of alphabet characters is refused, no more.
    int refused = 0;
    for (int i = 0; i < 3200; ++i) {
        auto body = iam::generate_referral_code(9).substr(0, 8);
        try {
            (void)iam::normalize_vanity_code(body);
        } catch (const iam::Error&) {
            ++refused;
        }
    }
    CHECK(refused > 40);
    CHECK(refused < 200);
}

TEST_CASE("a known vector, from an independent implementation of the scheme") {
    // Python: interim = 0; for each character: interim = 2*interim (mod
    // x^5 + x^2 + 1) XOR position; check = alphabet[2*interim].
    CHECK(iam::referral_check_character("7K3M9Q2") == 'M');
    CHECK(iam::has_valid_check_character("7K3M9Q2M"));
}
