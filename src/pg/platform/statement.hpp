// Which statement a call belongs to, for caches that must not outlive it:
// the transaction (its local id), the command within it, what the
// statement's snapshot sees, the subtransactions aborted so far, the
// statement's start and the database roles it runs as. The command id
// tells apart statements of one transaction once one of them has written;
// the snapshot tells apart two read-only statements in READ COMMITTED,
// which share a command id but see the commits other transactions made in
// between (a role revoked elsewhere), and a cursor's older snapshot from the
// statement around it (its own command id); an aborted subtransaction
// takes back writes that neither of them shows under REPEATABLE READ
// (ROLLBACK TO SAVEPOINT); the start is the clock keys expire by; and SET
// ROLE changes who the caller is (a service role holds everything).
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

// How many subtransactions this backend has aborted (counted by the
// callback that track_subtransaction_aborts registers, once per backend).
extern uint64 subtransactions_aborted;
void track_subtransaction_aborts();

struct StatementStamp {
    LocalTransactionId transaction;  // zero-initialised: no statement yet
    CommandId command;
    CommandId snapshot_command;  // the snapshot's own: a cursor's is older
    uint64 aborts;               // subtransactions_aborted
    TimestampTz start;           // GetCurrentStatementStartTimestamp()
    Oid user, outer_user;        // GetUserId(), GetOuterUserId()
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
    CommandId snapshot_command = snapshot != nullptr ? snapshot->curcid : InvalidCommandId;
    TimestampTz start = GetCurrentStatementStartTimestamp();
    Oid user = GetUserId(), outer_user = GetOuterUserId();
    if (likely(stamp->transaction == transaction && stamp->command == command &&
               stamp->snapshot_command == snapshot_command &&
               stamp->aborts == subtransactions_aborted && stamp->start == start &&
               stamp->user == user && stamp->outer_user == outer_user && stamp->xmin == xmin &&
               stamp->xmax == xmax && stamp->running == running &&
               stamp->running_subtransactions == running_subtransactions))
        return true;
    stamp->transaction = transaction;
    stamp->command = command;
    stamp->snapshot_command = snapshot_command;
    stamp->aborts = subtransactions_aborted;
    stamp->start = start;
    stamp->user = user;
    stamp->outer_user = outer_user;
    stamp->xmin = xmin;
    stamp->xmax = xmax;
    stamp->running = running;
    stamp->running_subtransactions = running_subtransactions;
    return false;
}

}  // namespace iam::pg
