// The Catch2 runner for the unit tests of src/core.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
