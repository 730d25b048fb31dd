// The Catch2 runner for the unit tests of src/core. libsodium is initialised
// first, as the extension's _PG_init does.
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"

#include <sodium.h>

int main(int argc, char* argv[]) {
    if (sodium_init() < 0)
        return 1;
    return Catch::Session().run(argc, argv);
}
