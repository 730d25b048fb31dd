// The answers a check's call site gave in the current statement, for checks
// whose argument changes from row to row (src/pg/checks/roles.cpp): open
// addressing in the call site's memory, keyed by user and company (a role
// check keys on the user alone, with a zero company), forgotten per
// statement by bumping an epoch. Bounded: it grows by doubling up to
// memo_max_capacity entries and then stops remembering, so a statement over
// millions of distinct users or companies keeps its memory flat. Plain C
// style: it runs inside PostgreSQL calls (index scans' callbacks), where
// nothing may throw.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

struct MemoEntry {
    pg_uuid_t user_id;
    pg_uuid_t company_id;
    uint32 epoch;  // the memo's epoch when written; any other means empty
    bool answer;
};

struct AnswerMemo {
    MemoEntry* entries;
    uint32 capacity;  // a power of two; 0 until the first answer
    uint32 used;      // entries of this epoch
    uint32 epoch;     // bumped per statement: forgetting costs nothing
    // For a role asked about many users: how many were read one by one,
    // whether the memo holds every holder of the role (a user missing is
    // not one), and whether that was tried and there were too many.
    uint32 misses;
    bool complete, too_many_holders;
};

constexpr uint32 memo_max_capacity = 16384;
// At most three quarters full at its largest, so that every probe ends.
constexpr uint32 memo_max_entries = memo_max_capacity / 4 * 3;

// Forgets every answer (and the holder state above).
void memo_forget(AnswerMemo* memo);

// Remembers an answer in `context`, growing the table while it may; a full
// memo at its largest keeps what it has.
void memo_remember(AnswerMemo* memo, MemoryContext context, const pg_uuid_t& user_id,
                   const pg_uuid_t& company_id, bool answer);

// The ids come from the rows, which a tenant may choose: the hash is keyed
// per backend (random words mixed in by 128-bit products), so that nobody
// can line their ids up into one long probe. Set by the first memo_remember.
extern uint64 memo_seed[4];

pg_attribute_always_inline uint32 memo_hash(const pg_uuid_t& user_id, const pg_uuid_t& company_id) {
    auto folded_product = [](uint64 a, uint64 b) {
        unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
        return static_cast<uint64>(product) ^ static_cast<uint64>(product >> 64);
    };
    uint64 words[4];
    memcpy(&words[0], user_id.data, UUID_LEN);
    memcpy(&words[2], company_id.data, UUID_LEN);
    uint64 h = folded_product(words[0] ^ memo_seed[0], words[1] ^ memo_seed[1]) ^
               folded_product(words[2] ^ memo_seed[2], words[3] ^ memo_seed[3]);
    return static_cast<uint32>(h ^ (h >> 32));
}

// Whether the memo has an answer for the key; sets *answer if so. Inline:
// it runs once per row of a policy.
pg_attribute_always_inline bool memo_find(const AnswerMemo& memo, const pg_uuid_t& user_id,
                                          const pg_uuid_t& company_id, bool* answer) {
    if (memo.used == 0)
        return false;
    uint32 mask = memo.capacity - 1;
    for (uint32 slot = memo_hash(user_id, company_id) & mask;; slot = (slot + 1) & mask) {
        const MemoEntry& entry = memo.entries[slot];
        if (entry.epoch != memo.epoch)
            return false;
        if (memcmp(entry.user_id.data, user_id.data, UUID_LEN) == 0 &&
            memcmp(entry.company_id.data, company_id.data, UUID_LEN) == 0) {
            *answer = entry.answer;
            return true;
        }
    }
}

}  // namespace iam::pg
