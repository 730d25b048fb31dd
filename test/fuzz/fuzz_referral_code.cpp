// libFuzzer target: normalize_typed_code and normalize_vanity_code on any
// bytes. A normalised code normalises to itself; it has only alphabet
// characters; appending its check character always makes a valid code, and
// changing any one character of that code makes it invalid.
#include "core/error.hpp"
#include "core/referral_code.hpp"

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool initialised = sodium_init() >= 0;
    if (!initialised)
        std::abort();
    std::string_view input(reinterpret_cast<const char*>(data), size);
    if (auto code = iam::normalize_typed_code(input)) {
        auto again = iam::normalize_typed_code(*code);
        if (!again || *again != *code)
            std::abort();
        for (char c : *code)
            if (iam::referral_alphabet.find(c) == std::string_view::npos)
                std::abort();
        std::string with_check = *code + iam::referral_check_character(*code);
        if (!iam::has_valid_check_character(with_check))
            std::abort();
        std::string changed = with_check;
        size_t position = size % changed.size();
        changed[position] = changed[position] == '0' ? '1' : '0';
        if (iam::has_valid_check_character(changed))
            std::abort();
    }
    try {
        std::string vanity = iam::normalize_vanity_code(input);
        if (iam::normalize_vanity_code(vanity) != vanity)
            std::abort();
    } catch (const iam::Error&) {
    }
    return 0;
}
