// UUID spelling must match PostgreSQL's uuid_in exactly: the subject of a JWT
// is compared with iam.users.id, and auth.uid() reads it with a ::uuid cast.
// Every spelling below was checked against PostgreSQL 15.
#include "catch.hpp"

#include "core/uuid.hpp"

#include <string>

namespace {

const iam::Uuid example = {{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9,
                            0xbd, 0x38, 0x0a, 0x11}};

}  // namespace

TEST_CASE("parse_uuid accepts every spelling uuid_in accepts") {
    const char* accepted[] = {
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",    "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "a0EEbc99-9C0b-4Ef8-bB6d-6bb9BD380a11",    "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",        "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
        "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "{a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11}",
        "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",   "a0eebc999c0b4ef8bb6d6bb9bd38-0a11",
        "a0ee-bc999c0b4ef8bb6d6bb9bd380a11",
    };
    for (const char* text : accepted) {
        CAPTURE(text);
        auto uuid = iam::parse_uuid(text);
        REQUIRE(uuid);
        CHECK(*uuid == example);
    }
}

TEST_CASE("parse_uuid rejects every spelling uuid_in rejects") {
    const std::string rejected[] = {
        "",
        "{}",
        "a0eebc999c0b4ef8bb6d6bb9bd380a1",    // 31 digits
        "a0eebc999c0b4ef8bb6d6bb9bd380a111",  // 33 digits
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
        "a0ee--bc999c0b4ef8bb6d6bb9bd380a11",
        "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
        "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "a0e-ebc999c0b4ef8bb6d6bb9bd380a11",  // hyphen inside a group of four
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a-11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1-1",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}",
        "{-a0eebc999c0b4ef8bb6d6bb9bd380a11}",
        "{a0eebc999c0b4ef8bb6d6bb9bd380a11-}",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11{}",
        "(a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11)",
        " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
        "a0eebc99 9c0b 4ef8 bb6d 6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\n",
        "a0eebc99_9c0b_4ef8_bb6d_6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
        "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "0xeebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        std::string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\0", 37),
        std::string("a0eebc99-9c0b-4ef8-bb6d\0-6bb9bd380a11", 37),
        std::string("\0a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 37),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\xc3\xa9",
    };
    for (const std::string& text : rejected) {
        CAPTURE(text);
        CHECK_FALSE(iam::parse_uuid(text));
    }
}

TEST_CASE("parse_uuid reads the bytes in order") {
    auto uuid = iam::parse_uuid("00112233-4455-6677-8899-aAbBcCdDeEfF");
    REQUIRE(uuid);
    const iam::Uuid expected = {{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                                 0xbb, 0xcc, 0xdd, 0xee, 0xff}};
    CHECK(*uuid == expected);
    CHECK(*uuid != example);
    CHECK(iam::parse_uuid("00000000-0000-0000-0000-000000000000") == iam::Uuid{});
}

TEST_CASE("format_uuid prints PostgreSQL's canonical form") {
    CHECK(iam::format_uuid(example) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    CHECK(iam::format_uuid(iam::Uuid{}) == "00000000-0000-0000-0000-000000000000");
    iam::Uuid all_ones;
    all_ones.bytes.fill(0xff);
    CHECK(iam::format_uuid(all_ones) == "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

TEST_CASE("format_uuid and parse_uuid round-trip") {
    for (const char* text :
         {"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
          "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"}) {
        CAPTURE(text);
        auto uuid = iam::parse_uuid(text);
        REQUIRE(uuid);
        std::string canonical = iam::format_uuid(*uuid);
        CHECK(canonical == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        CHECK(iam::parse_uuid(canonical) == uuid);
    }
    // Every byte value, in every position.
    for (int value = 0; value < 256; ++value) {
        iam::Uuid uuid;
        for (size_t i = 0; i < uuid.bytes.size(); ++i) {
            uuid.bytes[i] = static_cast<uint8_t>(value + i);
        }
        std::string text = iam::format_uuid(uuid);
        CAPTURE(text);
        CHECK((text.size() == 36 && iam::parse_uuid(text) == uuid));
    }
}
