// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/api_keys/rate_limits.hpp"

#include <algorithm>
#include <cmath>

namespace iam::pg {
namespace {

// Up to 16 partitions, each behind its own lock, so that requests of
// different keys rarely wait for each other; a key probes 8 slots of its
// partition.
constexpr int max_partitions = 16;
constexpr int probe_length = 8;
int slot_setting = 16384;

struct RateSlot {
    pg_uuid_t key_id;
    int64 window_usecs;  // 0: unused
    int64 window_index;  // of the current window: now / window_usecs
    int64 last_seen;     // the key's last request, admitted or not
    int32 limit;         // the key's limit at that request
    int32 current, previous;
};

struct RatePartition {
    LWLock* lock;
    RateSlot* slots;
};

struct RateTable {
    int partition_count;
    int slots_per_partition;
    RatePartition partitions[max_partitions];
    // the slots follow, partition after partition
};

RateTable* shared_table = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;
constexpr const char* tranche_name = "iam_ext rate limits";

// 16 partitions of slots / 16 from 128 slots up; fewer, of 8, below.
int partition_count() {
    return std::clamp(slot_setting / probe_length, 1, max_partitions);
}

int slots_per_partition() {
    return slot_setting / partition_count();
}

Size table_size() {
    return add_size(sizeof(RateTable),
                    mul_size(sizeof(RateSlot), mul_size(partition_count(), slots_per_partition())));
}

void request_memory() {
    if (previous_request_hook != nullptr)
        previous_request_hook();
    RequestAddinShmemSpace(table_size());
    RequestNamedLWLockTranche(tranche_name, partition_count());
}

void attach_memory() {
    if (previous_startup_hook != nullptr)
        previous_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    auto* table = static_cast<RateTable*>(ShmemInitStruct(tranche_name, table_size(), &found));
    if (!found) {
        memset(table, 0, table_size());
        table->partition_count = partition_count();
        table->slots_per_partition = slots_per_partition();
        LWLockPadded* locks = GetNamedLWLockTranche(tranche_name);
        auto* slots = reinterpret_cast<RateSlot*>(table + 1);
        for (int i = 0; i < table->partition_count; ++i) {
            table->partitions[i].lock = &locks[i].lock;
            table->partitions[i].slots = slots + Size(i) * table->slots_per_partition;
        }
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

// Whether the slot's key is at its limit (the slot advanced to `now`), and
// then in *wait the microseconds until it is under it again.
bool at_limit(const RateSlot* slot, int64 now, double* wait) {
    int64 window = slot->window_usecs;
    int64 elapsed = now - slot->window_index * window;
    // The share of the previous window still inside the last `window`.
    double overlap = double(window - elapsed) / double(window);
    double counted = slot->previous * overlap + slot->current;
    if (counted < slot->limit)
        return false;
    // Until the weighted count drops below the limit, nothing else admitted
    // meanwhile: later in this window while the previous one still weighs,
    // else once this one has become the previous.
    if (slot->current < slot->limit) {
        double needed_overlap = double(slot->limit - slot->current) / slot->previous;
        *wait = (overlap - needed_overlap) * window;
    } else {
        double needed_overlap = double(slot->limit) / slot->current;
        *wait = (window - elapsed) + (1 - needed_overlap) * window;
    }
    return true;
}

void take(RateSlot* slot, const pg_uuid_t& key_id, int64 window_usecs, int64 now) {
    slot->key_id = key_id;
    slot->window_usecs = window_usecs;
    slot->window_index = now / window_usecs;
    slot->current = slot->previous = 0;
}

// The key's slot in `partition`, or one made theirs: an unused slot or one
// whose count has fallen to nothing (forgetting it forgets nothing), else
// the slot seen longest ago among those under their limit (its key starts
// afresh, having used less than its limit). Never a slot at its limit:
// nullptr when every probed slot is, with *soonest the microseconds until
// the first of them is under its limit again. Called under the partition's
// lock.
RateSlot* find_slot(RatePartition* partition, uint32 hash, const pg_uuid_t& key_id,
                    int64 window_usecs, int64 now, double* soonest) {
    int slots = shared_table->slots_per_partition;
    uint32 start = (hash / shared_table->partition_count) % slots;
    RateSlot* empty = nullptr;
    RateSlot* under_limit = nullptr;
    *soonest = HUGE_VAL;
    for (int i = 0; i < probe_length; ++i) {
        RateSlot* slot = &partition->slots[(start + i) % slots];
        if (slot->window_usecs == 0) {
            if (empty == nullptr)
                empty = slot;
            continue;
        }
        if (memcmp(slot->key_id.data, key_id.data, UUID_LEN) == 0) {
            if (slot->window_usecs != window_usecs)  // the key's window changed
                take(slot, key_id, window_usecs, now);
            return slot;
        }
        advance(slot, now / slot->window_usecs);
        if (slot->current == 0 && slot->previous == 0) {
            if (empty == nullptr)
                empty = slot;
            continue;
        }
        double wait;
        if (at_limit(slot, now, &wait))
            *soonest = std::min(*soonest, wait);
        else if (under_limit == nullptr || slot->last_seen < under_limit->last_seen)
            under_limit = slot;
    }
    RateSlot* chosen = empty != nullptr ? empty : under_limit;
    if (chosen != nullptr)
        take(chosen, key_id, window_usecs, now);
    return chosen;
}

int seconds(double usecs) {
    return std::max(1, static_cast<int>(std::min(std::ceil(usecs / USECS_PER_SEC), 2.0 * 86400)));
}

}  // namespace

void define_rate_limit_settings() {
    DefineCustomIntVariable(
        "iam.rate_limit_slots", "How many API keys the shared table of rate limits counts at once",
        "A key with a rate limit takes a slot while its count lasts. When every slot a key may "
        "take holds a key at its limit, its request is refused (53400) until one is under it.",
        &slot_setting, 16384, probe_length, 1 << 20, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

void request_rate_limit_memory() {
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_memory;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = attach_memory;
}

bool rate_limits_available() {
    return shared_table != nullptr;
}

Admission admit_request(const pg_uuid_t& key_id, int32 limit, int64 window_usecs) {
    // Microseconds since 2000: the windows are aligned to that epoch.
    int64 now = GetCurrentTimestamp();
    uint32 hash = hash_bytes(key_id.data, UUID_LEN);
    RatePartition* partition = &shared_table->partitions[hash % shared_table->partition_count];
    LWLockAcquire(partition->lock, LW_EXCLUSIVE);
    double soonest;
    RateSlot* slot = find_slot(partition, hash, key_id, window_usecs, now, &soonest);
    if (slot == nullptr) {
        LWLockRelease(partition->lock);
        return Admission{seconds(soonest), true};
    }
    advance(slot, now / window_usecs);
    slot->limit = limit;
    slot->last_seen = now;
    double wait;
    bool refused = at_limit(slot, now, &wait);
    if (!refused)
        ++slot->current;
    LWLockRelease(partition->lock);
    return Admission{refused ? seconds(wait) : 0, false};
}

}  // namespace iam::pg
