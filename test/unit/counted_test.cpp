// Messages count things: one of them is singular, any other count plural.
#include "catch.hpp"

#include "core/counted.hpp"

TEST_CASE("a count of one takes the singular, any other count the plural") {
    CHECK(iam::counted(1, "request", "requests") == "1 request");
    CHECK(iam::counted(2, "request", "requests") == "2 requests");
    CHECK(iam::counted(0, "second", "seconds") == "0 seconds");
    CHECK(iam::counted(60, "second", "seconds") == "60 seconds");
    CHECK(iam::counted(1, "second", "seconds") == "1 second");
}
