#include "pg/checks/key_set.hpp"

#include <algorithm>

namespace iam::pg {
namespace {

// Below this, a set is not worth building: every key is read.
constexpr Size smallest_set = 4096;

void* lend(MemoBudget* budget, Size bytes, bool zero) {
    void* memory = MemoryContextAllocExtended(budget->context, bytes,
                                              MCXT_ALLOC_HUGE | (zero ? MCXT_ALLOC_ZERO : 0));
    budget->used += bytes;
    return memory;
}

// Buckets for `count` keys: a power of two, at least 2, with 4 to 8 keys
// each.
uint32 bucket_count(uint64 count) {
    uint32 buckets = 2;
    while (static_cast<uint64>(buckets) * 2 * 4 <= count)
        buckets *= 2;
    return buckets;
}

// What a set of `count` keys keeps: the keys and the buckets' starts.
Size kept_bytes(uint64 count, Size key_bytes) {
    return count == 0 ? 0 : count * key_bytes + (bucket_count(count) + 1) * sizeof(uint32);
}

// Its peak, while grouping: a cursor per bucket more.
Size peak_bytes(uint64 count, Size key_bytes) {
    return count == 0 ? 0 : kept_bytes(count, key_bytes) + bucket_count(count) * sizeof(uint32);
}

// Places for `count` keys: buckets of eight filled to at most four fifths.
uint32 row_bucket_count(uint64 count) {
    return static_cast<uint32>((count * 5 + 31) / 32);
}
Size row_bytes(uint64 count) {
    return row_bucket_count(count) * sizeof(RowBucket);
}

}  // namespace

template <int Uuids>
bool KeySet<Uuids>::start(MemoBudget* budget, uint64 expected) {
    *this = KeySet{};
    Size left = budget->limit > budget->used ? budget->limit - budget->used : 0;
    if (left < smallest_set || expected == 0)
        return false;
    if (unlikely(memo_seed[0] == 0 && memo_seed[1] == 0))
        seed_memo_hash();
    // All of them, if they fit. Else a place for each (a key's read then
    // costs a buffer, not a descent) and, with what is left, as many in the
    // set as fit (each one there is one read less). Else places for as many
    // as fit beside a byte of filter for each of the others.
    uint64 in_set = expected, in_rows = 0;
    Size filter_bytes = 0;
    if (peak_bytes(expected, key_bytes) > left) {
        if (row_bytes(expected) <= left) {
            // A key moved into the set costs its bytes and its share of the
            // buckets, less its place: more than key_bytes - 7.
            in_set = std::min<uint64>(expected, (left - row_bytes(expected)) / (key_bytes - 7));
            while (in_set > 0 &&
                   peak_bytes(in_set, key_bytes) + row_bytes(expected - in_set) > left)
                --in_set;
            in_rows = expected - in_set;
        } else {
            in_set = 0;
            // A place costs 7.5 bytes, less the byte of filter it saves.
            in_rows = left > expected ? std::min<uint64>(expected, (left - expected) * 2 / 13) : 0;
            while (in_rows > 0 && row_bytes(in_rows) + (expected - in_rows) > left)
                --in_rows;
            filter_bytes = (left - row_bytes(in_rows)) / 8 * 8;
        }
    }
    if (in_set > 0) {
        uint32 buckets = bucket_count(in_set);
        keys = static_cast<Key*>(lend(budget, in_set * key_bytes, false));
        starts = static_cast<uint32*>(lend(budget, (buckets + 1) * sizeof(uint32), true));
        capacity = static_cast<uint32>(in_set);
        shift = 64 - pg_leftmost_one_pos32(buckets);
    }
    if (in_rows > 0) {
        row_buckets = row_bucket_count(in_rows);
        rows = static_cast<RowBucket*>(lend(budget, row_bytes(in_rows), true));
        row_capacity = static_cast<uint32>(in_rows);
    }
    if (filter_bytes > 0) {
        filter = static_cast<uint64*>(lend(budget, filter_bytes, true));
        filter_bits = filter_bytes * 8;
    } else if (in_set + in_rows < expected) {
        overflowed = true;  // no room for a filter: the others are read
    }
    bytes = kept_bytes(in_set, key_bytes) + row_bytes(in_rows) + filter_bytes;
    return true;
}

template <int Uuids>
void KeySet<Uuids>::add(const uint8* key, const ItemPointerData& row) {
    if (count < capacity) {
        memcpy(keys[count++].bytes, key, key_bytes);
        return;
    }
    uint32 place = row_count < row_capacity ? pack_place(row) : 0;
    if (place != 0) {
        uint64 h = hash(key);
        for (uint64 b = scaled(h, row_buckets);; b = b + 1 == row_buckets ? 0 : b + 1) {
            RowBucket& bucket = rows[b];
            for (int i = 0; i < RowBucket::slots; ++i) {
                if (bucket.places[i] == 0) {
                    bucket.marks[i] = static_cast<uint16>(h);
                    bucket.places[i] = place;
                    ++row_count;
                    return;
                }
            }
        }
    }
    if (filter == nullptr) {
        overflowed = true;
        return;
    }
    uint64 h = filter_hash(key), step = (h >> 32) | 1;
    for (int i = 0; i < filter_probes; ++i, h += step) {
        uint64 bit = scaled(h, filter_bits);
        filter[bit / 64] |= uint64{1} << (bit % 64);
    }
}

template <int Uuids>
void KeySet<Uuids>::finish(MemoBudget* budget) {
    if (keys == nullptr)
        return;
    uint32 buckets = uint32{1} << (64 - shift);
    // Count the keys per bucket, then group them in place: each key moves
    // straight to its bucket's next free place, and the one there moves on.
    for (uint32 i = 0; i < count; ++i)
        ++starts[(hash(keys[i].bytes) >> shift) + 1];
    for (uint32 b = 0; b < buckets; ++b)
        starts[b + 1] += starts[b];
    auto* next = static_cast<uint32*>(lend(budget, buckets * sizeof(uint32), false));
    memcpy(next, starts, buckets * sizeof(uint32));
    for (uint32 b = 0; b < buckets; ++b) {
        while (next[b] < starts[b + 1]) {
            Key moving = keys[next[b]];
            uint64 home = hash(moving.bytes) >> shift;
            while (home != b) {
                Key displaced = keys[next[home]];
                keys[next[home]++] = moving;
                moving = displaced;
                home = hash(moving.bytes) >> shift;
            }
            keys[next[b]++] = moving;
        }
    }
    pfree(next);
    budget->used -= buckets * sizeof(uint32);
}

template <int Uuids>
void KeySet<Uuids>::release(MemoBudget* budget) {
    if (keys != nullptr) {
        pfree(keys);
        pfree(starts);
    }
    if (rows != nullptr)
        pfree(rows);
    if (filter != nullptr)
        pfree(filter);
    budget->used -= bytes;
    *this = KeySet{};
}

template struct KeySet<1>;
template struct KeySet<2>;

}  // namespace iam::pg
