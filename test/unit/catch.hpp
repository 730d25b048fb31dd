// Catch2 for the unit tests, version 3 (Debian 13 and later: a header per
// part, a compiled library) or version 2 (Debian 12: the single header). The
// tests use what both versions spell the same way.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
