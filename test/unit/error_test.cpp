// The C++ half of the error boundary: every exception the core can throw is
// described to PostgreSQL with a valid SQLSTATE and its message, and the
// objects of the failed call are destroyed before the report exists.
#include "catch.hpp"

#include "core/error.hpp"

#include <new>
#include <stdexcept>
#include <string>

namespace {

template <typename Throw>
iam::ErrorReport report_of(Throw&& throw_it) {
    try {
        throw_it();
    } catch (...) {
        return iam::describe_current_exception();
    }
    FAIL("nothing was thrown");
    return {};
}

}  // namespace

TEST_CASE("a SQLSTATE is five digits or upper-case letters") {
    CHECK(iam::is_valid_sqlstate("22023"));
    CHECK(iam::is_valid_sqlstate("P0002"));
    CHECK(iam::is_valid_sqlstate("XX000"));
    CHECK_FALSE(iam::is_valid_sqlstate(""));
    CHECK_FALSE(iam::is_valid_sqlstate("2202"));
    CHECK_FALSE(iam::is_valid_sqlstate("220233"));
    CHECK_FALSE(iam::is_valid_sqlstate("p0002"));
    CHECK_FALSE(iam::is_valid_sqlstate("22 23"));
    CHECK_FALSE(
        iam::is_valid_sqlstate(std::string("22\0"
                                           "23",
                                           5)));
}

TEST_CASE("iam::Error keeps its SQLSTATE, message, detail and hint") {
    auto report = report_of([] {
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "length must be 4..32",
                         "length was 99", "use the default");
    });
    CHECK(report.sqlstate == "22023");
    CHECK(report.message == "length must be 4..32");
    CHECK(report.detail == "length was 99");
    CHECK(report.hint == "use the default");
}

TEST_CASE("a malformed SQLSTATE becomes an internal error, never reaches PostgreSQL") {
    for (const char* bad : {"", "42", "abcde", "4270 ", "427040"}) {
        iam::Error error(bad, "message");
        CHECK(error.sqlstate() == "XX000");
    }
}

TEST_CASE("standard and foreign exceptions are described with a fixed SQLSTATE") {
    SECTION("bad_alloc is out of memory") {
        auto report = report_of([] { throw std::bad_alloc(); });
        CHECK(report.sqlstate == "53200");
        CHECK(report.message == "out of memory");
    }
    SECTION("other std::exceptions are internal errors that keep what()") {
        auto report = report_of([] { throw std::out_of_range("index 9 of 3"); });
        CHECK(report.sqlstate == "XX000");
        CHECK(report.message == "unexpected C++ exception: index 9 of 3");
    }
    SECTION("anything else is an internal error") {
        auto report = report_of([] { throw 42; });
        CHECK(report.sqlstate == "XX000");
        CHECK(report.message == "unexpected C++ exception");
        CHECK(report.detail.empty());
    }
}

TEST_CASE("objects of the failed call are destroyed before the report is made") {
    static int live = 0;
    struct Tracker {
        Tracker() { ++live; }
        ~Tracker() { --live; }
    };
    int live_when_described = -1;
    try {
        Tracker outer;
        [] {
            Tracker inner;
            throw iam::Error(iam::sqlstate::undefined_object, "role \"x\" does not exist");
        }();
    } catch (...) {
        live_when_described = live;
        auto report = iam::describe_current_exception();
        CHECK(report.sqlstate == "42704");
    }
    CHECK(live_when_described == 0);
}
