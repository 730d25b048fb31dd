// Positions of characters in a code alphabet, for the parsers of the core:
// one table lookup per character, independent of the C locale.
#pragma once

#include <array>
#include <string_view>

namespace iam {

using AlphabetPositions = std::array<signed char, 256>;

// Each byte's position in `alphabet` (at most 127 characters), or -1.
constexpr AlphabetPositions positions_in(std::string_view alphabet) {
    AlphabetPositions positions{};
    for (auto& position : positions)
        position = -1;
    for (size_t i = 0; i < alphabet.size(); ++i)
        positions[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return positions;
}

inline int position_in(const AlphabetPositions& positions, char c) noexcept {
    return positions[static_cast<unsigned char>(c)];
}

}  // namespace iam
