// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/referrals/attempt_limits.hpp"

namespace iam::pg {
namespace {

constexpr int slot_count = 8192;
constexpr int probe_length = 16;

struct AttemptSlot {
    pg_uuid_t user;
    TimestampTz window_start;  // 0: unused
    int32 failures;
};

struct AttemptTable {
    LWLock* lock;  // nullptr for a backend's own table
    AttemptSlot slots[slot_count];
};

int failures_allowed = 10;
int failure_window_seconds = 3600;

AttemptTable* shared_table = nullptr;
AttemptTable* local_table = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;
constexpr const char* tranche_name = "iam_ext attempt limits";

void request_memory() {
    if (previous_request_hook != nullptr)
        previous_request_hook();
    RequestAddinShmemSpace(sizeof(AttemptTable));
    RequestNamedLWLockTranche(tranche_name, 1);
}

void attach_memory() {
    if (previous_startup_hook != nullptr)
        previous_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    auto* table =
        static_cast<AttemptTable*>(ShmemInitStruct(tranche_name, sizeof(AttemptTable), &found));
    if (!found) {
        memset(table, 0, sizeof(AttemptTable));
        table->lock = &GetNamedLWLockTranche(tranche_name)->lock;
    }
    LWLockRelease(AddinShmemInitLock);
    shared_table = table;
}

AttemptTable* attempt_table() {
    if (shared_table != nullptr)
        return shared_table;
    if (local_table == nullptr)
        local_table = static_cast<AttemptTable*>(
            MemoryContextAllocZero(TopMemoryContext, sizeof(AttemptTable)));
    return local_table;
}

bool window_is_open(const AttemptSlot& slot, TimestampTz now) {
    return slot.window_start != 0 &&
           now < slot.window_start + int64(failure_window_seconds) * USECS_PER_SEC;
}

// The user's slot among the probed ones; with `claim`, a free or the oldest
// one made theirs when they have none. Called under the table's lock.
AttemptSlot* find_slot(AttemptTable* table, const pg_uuid_t& user, TimestampTz now, bool claim) {
    uint32 start = hash_bytes(user.data, UUID_LEN) % slot_count;
    AttemptSlot* reusable = nullptr;
    for (int i = 0; i < probe_length; ++i) {
        AttemptSlot* slot = &table->slots[(start + i) % slot_count];
        if (slot->window_start != 0 && memcmp(slot->user.data, user.data, UUID_LEN) == 0)
            return slot;
        // A slot with no open window is free; else the oldest window goes.
        bool free = !window_is_open(*slot, now);
        bool reusable_is_free = reusable != nullptr && !window_is_open(*reusable, now);
        if (reusable == nullptr || (free && !reusable_is_free) ||
            (!free && !reusable_is_free && slot->window_start < reusable->window_start))
            reusable = slot;
    }
    if (!claim)
        return nullptr;
    reusable->user = user;
    reusable->window_start = now;
    reusable->failures = 0;
    return reusable;
}

void lock(AttemptTable* table, LWLockMode mode) {
    if (table->lock != nullptr)
        LWLockAcquire(table->lock, mode);
}

void unlock(AttemptTable* table) {
    if (table->lock != nullptr)
        LWLockRelease(table->lock);
}

}  // namespace

void request_attempt_limit_memory() {
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_memory;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = attach_memory;
}

void define_attempt_limit_settings() {
    DefineCustomIntVariable(
        "iam.referral_failures_allowed",
        "Failed referral code redemptions a user may make per window (0: no limit)",
        "Past it, every redemption of the user is refused (53400) until the window ends.",
        &failures_allowed, 10, 0, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("iam.referral_failure_window",
                            "Length of the window that counts failed referral code redemptions",
                            nullptr, &failure_window_seconds, 3600, 1, 86400 * 30, PGC_SUSET,
                            GUC_UNIT_S, nullptr, nullptr, nullptr);
}

int reserve_attempt(const pg_uuid_t& user) {
    if (failures_allowed == 0)
        return 0;
    AttemptTable* table = attempt_table();
    TimestampTz now = GetCurrentTimestamp();
    int retry_after = 0;
    lock(table, LW_EXCLUSIVE);
    AttemptSlot* slot = find_slot(table, user, now, true);
    if (!window_is_open(*slot, now)) {
        slot->window_start = now;
        slot->failures = 0;
    }
    if (slot->failures >= failures_allowed) {
        TimestampTz end = slot->window_start + int64(failure_window_seconds) * USECS_PER_SEC;
        retry_after = static_cast<int>((end - now + USECS_PER_SEC - 1) / USECS_PER_SEC);
    } else {
        ++slot->failures;
    }
    unlock(table);
    return retry_after;
}

void release_attempt(const pg_uuid_t& user) {
    if (failures_allowed == 0)
        return;
    AttemptTable* table = attempt_table();
    TimestampTz now = GetCurrentTimestamp();
    lock(table, LW_EXCLUSIVE);
    AttemptSlot* slot = find_slot(table, user, now, false);
    if (slot != nullptr && window_is_open(*slot, now) && slot->failures > 0)
        --slot->failures;
    unlock(table);
}

}  // namespace iam::pg
