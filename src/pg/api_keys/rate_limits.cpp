// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/api_keys/rate_limits.hpp"

#include <algorithm>
#include <cmath>

namespace iam::pg {
namespace {

// 16 partitions of 1,024 slots, each behind its own lock, so that requests
// of different keys rarely wait for each other.
constexpr int partition_count = 16;
constexpr int slots_per_partition = 1024;
constexpr int probe_length = 8;

struct RateSlot {
    pg_uuid_t key_id;
    int64 window_usecs;  // 0: unused
    int64 window_index;  // of the current window: now / window_usecs
    int32 current, previous;
};

struct RatePartition {
    LWLock* lock;
    RateSlot slots[slots_per_partition];
};

struct RateTable {
    RatePartition partitions[partition_count];
};

RateTable* shared_table = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;
constexpr const char* tranche_name = "iam_ext rate limits";

void request_memory() {
    if (previous_request_hook != nullptr)
        previous_request_hook();
    RequestAddinShmemSpace(sizeof(RateTable));
    RequestNamedLWLockTranche(tranche_name, partition_count);
}

void attach_memory() {
    if (previous_startup_hook != nullptr)
        previous_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    auto* table = static_cast<RateTable*>(ShmemInitStruct(tranche_name, sizeof(RateTable), &found));
    if (!found) {
        memset(table, 0, sizeof(RateTable));
        LWLockPadded* locks = GetNamedLWLockTranche(tranche_name);
        for (int i = 0; i < partition_count; ++i)
            table->partitions[i].lock = &locks[i].lock;
    }
    LWLockRelease(AddinShmemInitLock);
    shared_table = table;
}

// Brings the slot's windows up to `index`: the current one becomes the
// previous one, or both are forgotten when more than a window has passed.
void advance(RateSlot* slot, int64 index) {
    if (slot->window_index == index)
        return;
    slot->previous = slot->window_index == index - 1 ? slot->current : 0;
    slot->current = 0;
    slot->window_index = index;
}

// The key's slot in `partition`, or one made theirs: an unused slot, else
// the one whose key was seen longest ago. Called under the partition's lock.
RateSlot* find_slot(RatePartition* partition, uint32 hash, const pg_uuid_t& key_id,
                    int64 window_usecs, int64 now) {
    uint32 start = (hash / partition_count) % slots_per_partition;
    RateSlot* reusable = nullptr;
    int64 reusable_seen = PG_INT64_MAX;
    for (int i = 0; i < probe_length; ++i) {
        RateSlot* slot = &partition->slots[(start + i) % slots_per_partition];
        if (slot->window_usecs != 0 && memcmp(slot->key_id.data, key_id.data, UUID_LEN) == 0) {
            if (slot->window_usecs != window_usecs) {  // the key's window changed
                slot->window_usecs = window_usecs;
                slot->window_index = now / window_usecs;
                slot->current = slot->previous = 0;
            }
            return slot;
        }
        // When the slot's key was last seen: the start of its current window.
        int64 seen =
            slot->window_usecs == 0 ? PG_INT64_MIN : slot->window_index * slot->window_usecs;
        if (seen < reusable_seen) {
            reusable = slot;
            reusable_seen = seen;
        }
    }
    reusable->key_id = key_id;
    reusable->window_usecs = window_usecs;
    reusable->window_index = now / window_usecs;
    reusable->current = reusable->previous = 0;
    return reusable;
}

}  // namespace

void request_rate_limit_memory() {
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_memory;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = attach_memory;
}

bool rate_limits_available() {
    return shared_table != nullptr;
}

int admit_request(const pg_uuid_t& key_id, int32 limit, int64 window_usecs) {
    // Microseconds since 2000: the windows are aligned to that epoch.
    int64 now = GetCurrentTimestamp();
    uint32 hash = hash_bytes(key_id.data, UUID_LEN);
    RatePartition* partition = &shared_table->partitions[hash % partition_count];
    LWLockAcquire(partition->lock, LW_EXCLUSIVE);
    RateSlot* slot = find_slot(partition, hash, key_id, window_usecs, now);
    advance(slot, now / window_usecs);
    int64 elapsed = now - slot->window_index * window_usecs;
    // The share of the previous window still inside the last `window`.
    double overlap = double(window_usecs - elapsed) / double(window_usecs);
    double counted = slot->previous * overlap + slot->current;
    int retry_after = 0;
    if (counted < limit) {
        ++slot->current;
    } else {
        // Until the weighted count drops below the limit, nothing else
        // admitted meanwhile: later in this window while the previous one
        // still weighs, else once this one has become the previous.
        double wait_usecs;
        if (slot->current < limit) {
            double needed_overlap = double(limit - slot->current) / slot->previous;
            wait_usecs = (overlap - needed_overlap) * window_usecs;
        } else {
            double needed_overlap = double(limit) / slot->current;
            wait_usecs = (window_usecs - elapsed) + (1 - needed_overlap) * window_usecs;
        }
        retry_after = std::max(1, static_cast<int>(std::ceil(wait_usecs / USECS_PER_SEC)));
    }
    LWLockRelease(partition->lock);
    return retry_after;
}

}  // namespace iam::pg
