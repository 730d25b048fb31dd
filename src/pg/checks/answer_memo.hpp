// The answers a check's call site gave in the current statement, for checks
// whose argument changes from row to row (role_checks.cpp,
// company_checks.cpp), and the caller's own companies: open addressing keyed
// by one uuid (a user, a company) or two (a user and a company), in the call
// site's memo context, which is reset when the statement changes.
//
// Bounded by iam.check_memory (a MemoBudget per call site): a table grows
// by doubling while the old and the new table together fit in the budget,
// so the peak while it grows stays within it too; a full table at its
// largest keeps what it has. The entry sizes are 17 bytes (one uuid) and 33
// (two): the default 64 MB holds 1,572,864 users or 786,432 pairs.
//
// Plain C style: it runs inside PostgreSQL calls (index scans' callbacks),
// where nothing may throw.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// What a call site's memos may hold together, in bytes.
struct MemoBudget {
    MemoryContext context;  // the call site's memo context
    Size limit, used;
};

// The budget every call site gets: iam.check_memory, read when its
// statement starts.
Size check_memory_bytes();

// The ids come from the rows, which a tenant may choose: the hash is keyed
// per backend (random words mixed in by 128-bit products), so that nobody
// can line their ids up into one long probe.
extern uint64 memo_seed[4];
void seed_memo_hash();

pg_attribute_always_inline uint64 memo_fold(uint64 a, uint64 b) {
    unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64>(product) ^ static_cast<uint64>(product >> 64);
}

// A table of `Uuids` uuids per key, each with a small value (1 to 255; 0
// marks an empty slot).
template <int Uuids>
struct UuidMemo {
    struct Entry {
        uint8 key[UUID_LEN * Uuids];
        uint8 value;
    };
    static_assert(sizeof(Entry) == UUID_LEN * Uuids + 1, "entries are packed");

    Entry* entries;   // nullptr until the first entry, and after a reset
    uint32 capacity;  // a power of two
    uint32 used;
    bool full;  // the budget stopped it: a key missing may still be there

    static uint32 hash(const uint8* key) {
        uint64 words[2 * Uuids];
        memcpy(words, key, sizeof(words));
        uint64 h = memo_fold(words[0] ^ memo_seed[0], words[1] ^ memo_seed[1]);
        if constexpr (Uuids == 2)
            h ^= memo_fold(words[2] ^ memo_seed[2], words[3] ^ memo_seed[3]);
        return static_cast<uint32>(h ^ (h >> 32));
    }

    // The value for the key; 0 if the memo has none. Inline: it runs once
    // per row of a policy.
    pg_attribute_always_inline uint8 find(const uint8* key) const {
        if (used == 0)
            return 0;
        uint32 mask = capacity - 1;
        for (uint32 slot = hash(key) & mask;; slot = (slot + 1) & mask) {
            const Entry& entry = entries[slot];
            if (entry.value == 0)
                return 0;
            if (memcmp(entry.key, key, sizeof(entry.key)) == 0)
                return entry.value;
        }
    }

    // Remembers a value (1..255) for a key not yet in the memo; false (and
    // `full` set) if the budget has no room for it. A sparse memo (the
    // caller's companies, probed on every row and mostly missed) grows at a
    // quarter full rather than half, so that a miss ends at once.
    bool remember(MemoBudget* budget, const uint8* key, uint8 value, bool sparse = false) {
        if (unlikely(capacity == 0 || (used + 1) * (sparse ? 4 : 2) > capacity)) {
            if (!grow(budget) && (capacity == 0 || (used + 1) * 4 > capacity * 3)) {
                full = true;
                return false;
            }
        }
        insert(key, value);
        return true;
    }

    // How many entries a memo grown from empty holds at most in `bytes`:
    // three quarters of the largest table that fits beside its half.
    static uint64 most_held(Size bytes) {
        constexpr uint64 initial_capacity = 64;
        if (sizeof(Entry) * initial_capacity > bytes)
            return 0;
        uint64 capacity = initial_capacity;
        while (sizeof(Entry) * (capacity + 2 * capacity) <= bytes)
            capacity *= 2;
        return capacity * 3 / 4;
    }

    // Forgets every entry and gives its memory back to the budget.
    void release(MemoBudget* budget) {
        if (entries != nullptr) {
            pfree(entries);
            budget->used -= sizeof(Entry) * static_cast<Size>(capacity);
        }
        reset();
    }

    // Forgets every entry, whose memory went with the context's reset.
    void reset() {
        entries = nullptr;
        capacity = used = 0;
        full = false;
    }

  private:
    void insert(const uint8* key, uint8 value) {
        uint32 mask = capacity - 1;
        uint32 slot = hash(key) & mask;
        while (entries[slot].value != 0)
            slot = (slot + 1) & mask;
        memcpy(entries[slot].key, key, sizeof(entries[slot].key));
        entries[slot].value = value;
        ++used;
    }

    bool grow(MemoBudget* budget) {
        constexpr uint32 initial_capacity = 64;
        uint32 new_capacity = capacity == 0 ? initial_capacity : capacity * 2;
        Size new_bytes = sizeof(Entry) * static_cast<Size>(new_capacity);
        if (new_capacity == 0 || budget->used + new_bytes > budget->limit)
            return false;
        if (unlikely(memo_seed[0] == 0 && memo_seed[1] == 0))
            seed_memo_hash();
        auto* new_entries = static_cast<Entry*>(MemoryContextAllocExtended(
            budget->context, new_bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO));
        budget->used += new_bytes;
        Entry* old_entries = entries;
        uint32 old_capacity = capacity;
        entries = new_entries;
        capacity = new_capacity;
        used = 0;
        for (uint32 i = 0; i < old_capacity; ++i)
            if (old_entries[i].value != 0)
                insert(old_entries[i].key, old_entries[i].value);
        if (old_entries != nullptr) {
            pfree(old_entries);
            budget->used -= sizeof(Entry) * static_cast<Size>(old_capacity);
        }
        return true;
    }
};

using UserMemo = UuidMemo<1>;  // keyed by a user, or by a company
using PairMemo = UuidMemo<2>;  // keyed by a user and a company

inline const uint8* uuid_key_bytes(const pg_uuid_t& id) {
    return id.data;
}

// The two uuids of a PairMemo key, side by side.
struct PairKey {
    uint8 bytes[2 * UUID_LEN];
    PairKey(const pg_uuid_t& user_id, const pg_uuid_t& company_id) {
        memcpy(bytes, user_id.data, UUID_LEN);
        memcpy(bytes + UUID_LEN, company_id.data, UUID_LEN);
    }
};

// Memo values.
constexpr uint8 memo_no = 1, memo_yes = 2;
inline uint8 memo_value(bool answer) {
    return answer ? memo_yes : memo_no;
}

}  // namespace iam::pg
