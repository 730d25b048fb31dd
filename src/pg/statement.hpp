// Which statement a call belongs to, for caches that must not outlive it:
// the transaction (its local id), the command within it, and the snapshot
// the statement reads with. The command id tells apart statements of one
// transaction once one of them has written; the snapshot tells apart two
// read-only statements in READ COMMITTED, which share a command id but see
// other transactions' commits made in between (a role revoked elsewhere).
#pragma once

#include "postgres.hpp"

namespace iam::pg {

struct StatementStamp {
    LocalTransactionId transaction;  // zero-initialised: no statement yet
    CommandId command;
    // How many transactions had completed when the statement's snapshot was
    // taken: two snapshots with the same count see the same transactions.
    uint64 completed_transactions;
};

// Whether `stamp` is the current statement; if not, it becomes it.
inline bool same_statement(StatementStamp* stamp) {
#if PG_VERSION_NUM >= 170000
    LocalTransactionId transaction = MyProc->vxid.lxid;
#else
    LocalTransactionId transaction = MyProc->lxid;
#endif
    CommandId command = GetCurrentCommandId(false);
    // A snapshot restored in a parallel worker has no count: the worker then
    // keeps its cache for the command, as the leader's snapshot is fixed.
    uint64 completed = ActiveSnapshotSet() ? GetActiveSnapshot()->snapXactCompletionCount : 0;
    if (likely(stamp->transaction == transaction && stamp->command == command &&
               stamp->completed_transactions == completed))
        return true;
    stamp->transaction = transaction;
    stamp->command = command;
    stamp->completed_transactions = completed;
    return false;
}

}  // namespace iam::pg
