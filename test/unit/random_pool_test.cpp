// The random pool behind codes and keys: uniform bytes, unbiased bounded
// integers, and a fresh stream in a forked child (PostgreSQL forks every
// backend from the postmaster).
#include "catch.hpp"

#include "core/random_pool.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <vector>

TEST_CASE("the random pool: uniform bytes, a fresh stream after fork") {
    // Byte values over 256 KiB (chi-square, 255 degrees of freedom): a fair
    // source exceeds 420 once in 3 billion runs.
    std::vector<unsigned char> bytes(256 * 1024);
    iam::random_bytes(bytes.data(), bytes.size());
    std::array<double, 256> counts{};
    for (unsigned char b : bytes)
        counts[b] += 1;
    double expected = bytes.size() / 256.0, chi_square = 0;
    for (double count : counts)
        chi_square += (count - expected) * (count - expected) / expected;
    CHECK(chi_square < 420);
    for (unsigned bound : {1u, 2u, 3u, 62u, 1000u})
        for (int i = 0; i < 1000; ++i)
            CHECK(iam::random_below(bound) < bound);

    // A child must not repeat the parent's next bytes.
    int pipe_ends[2];
    REQUIRE(pipe(pipe_ends) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    std::array<unsigned char, 32> mine{}, theirs{};
    if (child == 0) {
        iam::random_bytes(mine.data(), mine.size());
        ssize_t written = write(pipe_ends[1], mine.data(), mine.size());
        _exit(written == static_cast<ssize_t>(mine.size()) ? 0 : 1);
    }
    iam::random_bytes(mine.data(), mine.size());
    REQUIRE(read(pipe_ends[0], theirs.data(), theirs.size()) ==
            static_cast<ssize_t>(theirs.size()));
    int status = 0;
    waitpid(child, &status, 0);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
    CHECK(mine != theirs);
}
