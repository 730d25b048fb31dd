// A dense, exact set of keys of one uuid (a role's holders) or two (a
// user's active memberships: user and company), for when they do not fit in
// the memo (answer_memo.hpp), and a Bloom filter of those that do not fit in
// the set either. Built once per statement and question by role_checks.cpp
// and company_checks.cpp, in the call site's memo context, within its
// budget.
//
// The memo spends 17 bytes per user at most three quarters full, and keeps
// room to double, so 1 MB holds 24,576 users. Here a key costs its 16 or 32
// bytes in an array grouped by bucket (a keyed hash picks the bucket), and
// at most 2 more (the buckets' starts, 4 to 8 keys each, and, while the
// array is being grouped, a cursor per bucket): 1 MB holds 61,439 users
// exactly, or 31,743 pairs. A key that does not fit costs one byte of
// filter (8 bits, four probes: about 2% of the keys that are not in it are
// read anyway).
//
// Plain C style: it runs inside PostgreSQL calls (scans' callbacks), where
// nothing may throw.
#pragma once

#include "pg/boundary/postgres.hpp"

#include "pg/checks/answer_memo.hpp"

namespace iam::pg {

template <int Uuids>
struct KeySet {
    static constexpr Size key_bytes = UUID_LEN * Uuids;
    struct Key {
        uint8 bytes[key_bytes];
    };

    Key* keys;           // nullptr: no set
    uint32 capacity;     // keys allocated
    uint32 count;        // keys held
    uint32* starts;      // bucket b holds keys[starts[b] .. starts[b + 1])
    int shift;           // bucket of a hash: hash >> shift
    uint64* filter;      // the keys past the set; nullptr if none
    uint64 filter_bits;  // a multiple of 64
    bool overflowed;     // a key is neither in the set nor in the filter
    Size bytes;          // what the budget lends it

    // Sizes the set for at most `keys` keys in what the budget has left: all
    // of them if they fit, else as many as fit beside a filter of a byte for
    // each of the others. False (nothing allocated) if the budget has less
    // than a few kB left.
    bool start(MemoBudget* budget, uint64 expected);
    // Adds a key while loading: to the set while it has room, else to the
    // filter (else the set records that it overflowed).
    void add(const uint8* key);
    // Groups the keys by bucket, once every key was added.
    void finish(MemoBudget* budget);
    // Gives the memory back to the budget.
    void release(MemoBudget* budget);

    bool loaded() const { return keys != nullptr || filter != nullptr || overflowed; }
    // Whether every key is in the set: a key missing is not one.
    bool complete() const { return filter == nullptr && !overflowed; }

    // The bucket's hash, keyed like the memo's (the ids come from rows a
    // tenant may write); the filter's, from the seed's words the other way.
    static pg_attribute_always_inline uint64 hash(const uint8* key) {
        uint64 words[2 * Uuids];
        memcpy(words, key, sizeof(words));
        uint64 h = memo_fold(words[0] ^ memo_seed[0], words[1] ^ memo_seed[1]);
        if constexpr (Uuids == 2)
            h ^= memo_fold(words[2] ^ memo_seed[2], words[3] ^ memo_seed[3]);
        return h;
    }
    static pg_attribute_always_inline uint64 filter_hash(const uint8* key) {
        uint64 words[2 * Uuids];
        memcpy(words, key, sizeof(words));
        uint64 h = memo_fold(words[0] ^ memo_seed[2], words[1] ^ memo_seed[3]);
        if constexpr (Uuids == 2)
            h ^= memo_fold(words[2] ^ memo_seed[0], words[3] ^ memo_seed[1]);
        return h;
    }
    static constexpr int filter_probes = 4;
    // A bit of the filter for a hash: the high word of hash x bits, which
    // needs no power of two.
    static pg_attribute_always_inline uint64 filter_bit(uint64 h, uint64 bits) {
        return static_cast<uint64>((static_cast<unsigned __int128>(h) * bits) >> 64);
    }

    // Whether the key is in the set. Inline: once per row.
    pg_attribute_always_inline bool contains(const uint8* key) const {
        if (count == 0)
            return false;
        uint64 bucket = hash(key) >> shift;
        for (uint32 i = starts[bucket], end = starts[bucket + 1]; i < end; ++i)
            if (memcmp(keys[i].bytes, key, key_bytes) == 0)
                return true;
        return false;
    }

    // For a key not in the set: false, not a key; true, a key past the set,
    // or maybe not (the filter's answer, or the set overflowed): read it.
    pg_attribute_always_inline bool may_hold(const uint8* key) const {
        if (overflowed)
            return true;
        if (filter == nullptr)
            return false;
        uint64 h = filter_hash(key), step = (h >> 32) | 1;
        for (int i = 0; i < filter_probes; ++i, h += step) {
            uint64 bit = filter_bit(h, filter_bits);
            if ((filter[bit / 64] & (uint64{1} << (bit % 64))) == 0)
                return false;
        }
        return true;
    }
};

using HolderSet = KeySet<1>;      // a role's holders
using MembershipSet = KeySet<2>;  // active memberships: user, company

}  // namespace iam::pg
