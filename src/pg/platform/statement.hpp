// Which statement a call belongs to, for caches that must not outlive it:
// the transaction (its local id), the command within it, and what the
// statement's snapshot sees. The command id tells apart statements of one
// transaction once one of them has written; the snapshot tells apart two
// read-only statements in READ COMMITTED, which share a command id but see
// the commits other transactions made in between (a role revoked elsewhere).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// The current transaction's local id (the local part of its virtual
// transaction id): the same for all its statements, another for the next
// transaction of this backend. Caches that must not outlive a transaction
// compare it.
inline LocalTransactionId local_transaction_id() {
#if PG_VERSION_NUM >= 170000
    return MyProc->vxid.lxid;
#else
    return MyProc->lxid;
#endif
}

struct StatementStamp {
    LocalTransactionId transaction;  // zero-initialised: no statement yet
    CommandId command;
    // Two snapshots with the same horizon and the same number of running
    // transactions see the same commits: a transaction below xmax that ends
    // leaves xip, one at or above xmax that ends moves xmax, and no running
    // transaction enters xip later (new ids start at xmax or above).
    TransactionId xmin, xmax;
    uint32 running;
    int32 running_subtransactions;
};

// Whether `stamp` is the current statement; if not, it becomes it.
inline bool same_statement(StatementStamp* stamp) {
    LocalTransactionId transaction = local_transaction_id();
    CommandId command = GetCurrentCommandId(false);
    Snapshot snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : nullptr;
    TransactionId xmin = snapshot != nullptr ? snapshot->xmin : InvalidTransactionId;
    TransactionId xmax = snapshot != nullptr ? snapshot->xmax : InvalidTransactionId;
    uint32 running = snapshot != nullptr ? snapshot->xcnt : 0;
    int32 running_subtransactions = snapshot != nullptr ? snapshot->subxcnt : 0;
    if (likely(stamp->transaction == transaction && stamp->command == command &&
               stamp->xmin == xmin && stamp->xmax == xmax && stamp->running == running &&
               stamp->running_subtransactions == running_subtransactions))
        return true;
    stamp->transaction = transaction;
    stamp->command = command;
    stamp->xmin = xmin;
    stamp->xmax = xmax;
    stamp->running = running;
    stamp->running_subtransactions = running_subtransactions;
    return false;
}

}  // namespace iam::pg
