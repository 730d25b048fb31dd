// Random bytes for codes and keys, from a per-process ChaCha20 stream keyed
// by libsodium's CSPRNG (the operating system's). One getrandom() per 4 KiB
// of output instead of one per call: generating a referral code costs less
// than gen_random_uuid(). Bytes are wiped from the pool as they are handed
// out, and a forked child (PostgreSQL forks every backend from the
// postmaster, which may have loaded the library) starts a new stream rather
// than repeat its parent's. Not thread-safe: PostgreSQL backends are single
// threaded. Callers must have called sodium_init().
#pragma once

#include <cstddef>

namespace iam {

void random_bytes(unsigned char* out, size_t size);

// A uniform integer in [0, bound), bound > 0, without modulo bias.
unsigned random_below(unsigned bound);

}  // namespace iam
