// The secret holder wipes every byte it owned.
#include <cstring>
#include <string>

#include "catch.hpp"

#include "core/secret.hpp"

namespace {

bool all_zero(const char* bytes, size_t count) {
    for (size_t i = 0; i < count; ++i)
        if (bytes[i] != '\0')
            return false;
    return true;
}

}  // namespace

TEST_CASE("a wiped secret leaves no byte of its value behind") {
    std::string key(51, 'k');
    iam::Secret secret(std::move(key));
    REQUIRE(secret.view() == std::string(51, 'k'));
    const char* buffer = secret.data();
    secret.wipe();
    CHECK(secret.empty());
    // wipe() keeps the buffer (clear() does not free it): every byte is zero.
    CHECK(secret.data() == buffer);
    CHECK(all_zero(buffer, 51));
}

TEST_CASE("a short secret moved away is wiped in its source") {
    iam::Secret source(std::string("short-key"));  // within the small-string buffer
    const char* buffer = source.data();
    iam::Secret moved(std::move(source));
    CHECK(moved.view() == "short-key");
    CHECK(source.empty());
    CHECK(all_zero(buffer, std::strlen("short-key")));
}

TEST_CASE("assigning over a secret wipes what it held") {
    iam::Secret secret(std::string(40, 'a'));
    iam::Secret other(std::string(40, 'b'));
    secret = std::move(other);
    CHECK(secret.view() == std::string(40, 'b'));
    CHECK(other.empty());
}

TEST_CASE("a short string taken by a secret is wiped in its source") {
    std::string header("apikey x");  // within the small-string buffer
    const char* buffer = header.data();
    iam::Secret secret(std::move(header));
    CHECK(secret.view() == "apikey x");
    CHECK(header.empty());
    CHECK(all_zero(buffer, std::strlen("apikey x")));
}
