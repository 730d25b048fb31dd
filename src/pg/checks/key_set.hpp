// A dense, exact set of keys of one uuid (a role's holders) or two (a
// user's active memberships: user and company), for when they do not fit in
// the memo (answer_memo.hpp); for the keys that do not fit in the set, where
// their rows are; and a Bloom filter of those that fit in neither. Built
// once per statement and question by role_checks.cpp and company_checks.cpp,
// in the call site's memo context, within its budget.
//
// The memo spends 17 bytes per user at most three quarters full, and keeps
// room to double, so 1 MB holds 24,576 users. Here a key costs its 16 or 32
// bytes in an array grouped by bucket (a keyed hash picks the bucket), and
// at most 2 more (the buckets' starts, 4 to 8 keys each, and, while the
// array is being grouped, a cursor per bucket): 1 MB holds 61,439 users
// exactly, or 31,743 pairs.
//
// Past that, a key is remembered by its row instead: 16 bits of its hash and
// the row's place in its table (its tid, packed in 32 bits), 7.5 bytes with
// the table's slack, whatever the key's size. Checking such a key reads the
// row at that place (one buffer, no B-tree descent) and compares it; a key
// whose 16 bits match no row's is answered without a read. The budget goes
// first to a place for every key, then to moving keys into the set (each
// saves a read per row). Where even places do not fit, keys past them cost a
// byte of filter (8 bits, four probes: about 2% of the keys that are not in
// it are read anyway).
//
// Plain C style: it runs inside PostgreSQL calls (scans' callbacks), where
// nothing may throw.
#pragma once

#include "pg/boundary/postgres.hpp"

#include "pg/checks/answer_memo.hpp"
#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// A key's row, by its place: 16 bits of the key's hash (a mark) beside each
// place, eight to a bucket. A bucket's empty slots come last; a lookup goes
// on to the next bucket while the one it is in is full. Filled to at most
// four fifths, so a lookup ends within a bucket or two.
struct RowBucket {
    static constexpr int slots = 8;
    uint16 marks[slots];
    uint32 places[slots];  // a packed tid; 0: empty
};

// A tid in 32 bits, 0 for none: block x (the most rows a page holds + 1) +
// offset. Tables of up to about 14 million 8 kB pages (115 GB) fit.
constexpr uint32 rows_per_block = MaxHeapTuplesPerPage + 1;
inline uint32 pack_place(const ItemPointerData& tid) {
    BlockNumber block = ItemPointerGetBlockNumberNoCheck(&tid);
    if (block >= (PG_UINT32_MAX - rows_per_block) / rows_per_block)
        return 0;
    return block * rows_per_block + ItemPointerGetOffsetNumberNoCheck(&tid);
}
inline ItemPointerData unpack_place(uint32 place) {
    ItemPointerData tid;
    ItemPointerSet(&tid, place / rows_per_block, static_cast<OffsetNumber>(place % rows_per_block));
    return tid;
}

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
    RowBucket* rows;     // the places of keys past the set; nullptr if none
    uint32 row_buckets;  // how many
    uint32 row_capacity, row_count;
    uint64* filter;      // the keys past the places; nullptr if none
    uint64 filter_bits;  // a multiple of 64
    bool overflowed;     // a key is in none of them
    Size bytes;          // what the budget lends it

    // Sizes the set for at most `keys` keys in what the budget has left: all
    // of them if they fit; else a place for each beside as many in the set as
    // fit; else places for as many as fit beside a byte of filter for each of
    // the others. False (nothing allocated) if the budget has less than a few
    // kB left.
    bool start(MemoBudget* budget, uint64 expected);
    // Adds a key, with its row's place, while loading: to the set while it
    // has room, else to the places (a tid that does not pack, or no room:
    // the filter; else the set records that it overflowed).
    void add(const uint8* key, const ItemPointerData& row);
    // Groups the keys by bucket, once every key was added.
    void finish(MemoBudget* budget);
    // Gives the memory back to the budget.
    void release(MemoBudget* budget);

    bool loaded() const {
        return keys != nullptr || rows != nullptr || filter != nullptr || overflowed;
    }
    // Whether every key is in the set: a key missing is not one.
    bool complete() const { return rows == nullptr && filter == nullptr && !overflowed; }

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
    // Position h (a hash) in a range of n: the high word of h x n, which
    // needs no power of two.
    static pg_attribute_always_inline uint64 scaled(uint64 h, uint64 n) {
        return static_cast<uint64>((static_cast<unsigned __int128>(h) * n) >> 64);
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

    // For a key not in the set: whether a row of the places is the key, as
    // is_key(tid) reads it (RowMatch::same), no row is (RowMatch::other),
    // or a row could not be read (RowMatch::unreadable: read the key).
    template <typename IsKey>
    pg_attribute_always_inline RowMatch match_row(const uint8* key, IsKey is_key) const {
        if (row_count == 0)
            return RowMatch::other;
        uint64 h = hash(key);
        auto mark = static_cast<uint16>(h);
        for (uint64 b = scaled(h, row_buckets);; b = b + 1 == row_buckets ? 0 : b + 1) {
            const RowBucket& bucket = rows[b];
            for (int i = 0; i < RowBucket::slots; ++i) {
                if (bucket.places[i] == 0)
                    return RowMatch::other;
                if (bucket.marks[i] == mark) {
                    RowMatch match = is_key(unpack_place(bucket.places[i]));
                    if (match != RowMatch::other)
                        return match;
                }
            }
        }
    }

    // For a key in neither the set nor the places: false, not a key; true,
    // maybe a key (the filter's answer, or the set overflowed): read it.
    pg_attribute_always_inline bool may_hold(const uint8* key) const {
        if (overflowed)
            return true;
        if (filter == nullptr)
            return false;
        uint64 h = filter_hash(key), step = (h >> 32) | 1;
        for (int i = 0; i < filter_probes; ++i, h += step) {
            uint64 bit = scaled(h, filter_bits);
            if ((filter[bit / 64] & (uint64{1} << (bit % 64))) == 0)
                return false;
        }
        return true;
    }
};

using HolderSet = KeySet<1>;      // a role's holders
using MembershipSet = KeySet<2>;  // active memberships: user, company

}  // namespace iam::pg
