#include "pg/checks/answer_memo.hpp"

#include <algorithm>

namespace iam::pg {

uint64 memo_seed[4];

namespace {
constexpr uint32 memo_initial_capacity = 64;
bool memo_seeded = false;

void memo_insert(AnswerMemo* memo, const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                 bool answer) {
    uint32 mask = memo->capacity - 1;
    uint32 slot = memo_hash(user_id, company_id) & mask;
    while (memo->entries[slot].epoch == memo->epoch)
        slot = (slot + 1) & mask;
    memo->entries[slot] = MemoEntry{user_id, company_id, memo->epoch, answer};
    ++memo->used;
}

void seed_memo_hash() {
    if (!pg_strong_random(memo_seed, sizeof(memo_seed)))
        for (int i = 0; i < 4; ++i)
            memo_seed[i] = (static_cast<uint64>(MyProcPid) + i) * 0x9E3779B97F4A7C15ull ^
                           static_cast<uint64>(GetCurrentTimestamp());
    memo_seeded = true;
}
}  // namespace

void memo_forget(AnswerMemo* memo) {
    memo->used = 0;
    memo->misses = 0;
    memo->complete = false;
    memo->too_many_holders = false;
    if (++memo->epoch == 0) {  // wrapped: old entries could look current
        if (memo->entries != nullptr)
            memset(memo->entries, 0, sizeof(MemoEntry) * memo->capacity);
        memo->epoch = 1;
    }
}

void memo_remember(AnswerMemo* memo, MemoryContext context, const pg_uuid_t& user_id,
                   const pg_uuid_t& company_id, bool answer) {
    if (unlikely(!memo_seeded))
        seed_memo_hash();
    if (memo->capacity == 0 || (memo->used + 1) * 2 > memo->capacity) {
        if (memo->capacity >= memo_max_capacity) {
            if (memo->used + 1 > memo_max_entries)
                return;
        } else {
            MemoEntry* old_entries = memo->entries;
            uint32 old_capacity = memo->capacity, old_epoch = memo->epoch;
            memo->capacity = std::max(memo_initial_capacity, old_capacity * 2);
            memo->entries = static_cast<MemoEntry*>(
                MemoryContextAllocZero(context, sizeof(MemoEntry) * memo->capacity));
            memo->used = 0;
            memo->epoch = 1;
            for (uint32 i = 0; i < old_capacity; ++i)
                if (old_entries[i].epoch == old_epoch)
                    memo_insert(memo, old_entries[i].user_id, old_entries[i].company_id,
                                old_entries[i].answer);
            if (old_entries != nullptr)
                pfree(old_entries);
        }
    }
    memo_insert(memo, user_id, company_id, answer);
}

}  // namespace iam::pg
