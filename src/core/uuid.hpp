// UUIDs as PostgreSQL spells them. The identity context compares the subject
// of a JWT with iam.users.id, and Supabase's auth.uid() gets that subject by
// casting text to uuid: parsing here must accept exactly the spellings
// PostgreSQL's uuid_in accepts, or the two would disagree about who is asking.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iam {

struct Uuid {
    std::array<uint8_t, 16> bytes{};

    bool operator==(const Uuid& other) const noexcept { return bytes == other.bytes; }
    bool operator!=(const Uuid& other) const noexcept { return bytes != other.bytes; }
};

// The rule of PostgreSQL 15's uuid_in (string_to_uuid in
// src/backend/utils/adt/uuid.c): an optional '{', then 32 hex digits of
// either case with one optional '-' after each group of four (but not after
// the last), then '}' if and only if the text began with '{', then nothing.
// No whitespace, no other separators. So "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"
// and "{a0eebc999c0b4ef8bb6d6bb9bd380a11}" are UUIDs, "a0eebc99--9c0b..." and
// " a0eebc99-..." are not. Text containing a NUL byte is never a UUID (no
// PostgreSQL text can contain one).
std::optional<Uuid> parse_uuid(std::string_view text) noexcept;

// The canonical form PostgreSQL prints: lower case, 8-4-4-4-12, 36 characters.
std::string format_uuid(const Uuid& uuid);

}  // namespace iam
