#include "core/random_pool.hpp"

#include <sodium.h>

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace iam {
namespace {

constexpr size_t pool_size = 4096;

struct Pool {
    std::array<unsigned char, crypto_stream_chacha20_KEYBYTES> key;
    uint64_t block = 0;
    std::array<unsigned char, pool_size> bytes;
    size_t used = pool_size;  // nothing left: refill first
    bool keyed = false;
} pool;

void forget_pool() {
    sodium_memzero(&pool, sizeof(pool));
    pool.used = pool_size;
    pool.keyed = false;
}

void refill() {
    if (!pool.keyed) {
        static const bool registered = pthread_atfork(nullptr, nullptr, forget_pool) == 0;
        (void)registered;
        randombytes_buf(pool.key.data(), pool.key.size());
        pool.block = 0;
        pool.keyed = true;
    }
    std::array<unsigned char, crypto_stream_chacha20_NONCEBYTES> nonce{};
    uint64_t block = pool.block++;
    std::memcpy(nonce.data(), &block, sizeof(block));
    crypto_stream_chacha20(pool.bytes.data(), pool.bytes.size(), nonce.data(), pool.key.data());
    pool.used = 0;
    // A key never serves two streams: rekey long before the 64-bit nonce
    // could wrap, and now and then anyway.
    if (pool.block == (1u << 20))
        forget_pool();
}

}  // namespace

void random_bytes(unsigned char* out, size_t size) {
    while (size > 0) {
        if (pool.used == pool_size)
            refill();
        size_t take = std::min(size, pool_size - pool.used);
        std::memcpy(out, pool.bytes.data() + pool.used, take);
        sodium_memzero(pool.bytes.data() + pool.used, take);
        pool.used += take;
        out += take;
        size -= take;
    }
}

unsigned random_below(unsigned bound) {
    // Reject the 2^32 mod bound lowest values: what remains is a whole
    // number of runs of `bound`, so every result is equally likely.
    const uint32_t threshold = (0u - bound) % bound;
    uint32_t value;
    do {
        random_bytes(reinterpret_cast<unsigned char*>(&value), sizeof(value));
    } while (value < threshold);
    return value % bound;
}

}  // namespace iam
