// Which statement a call belongs to, for caches that must not outlive it:
// the transaction (its local id) and the command within it. A PL/pgSQL loop
// reuses a call site across statements of one transaction; the command id
// tells them apart once one of them has written.
#pragma once

#include "postgres.hpp"

namespace iam::pg {

struct StatementStamp {
    LocalTransactionId transaction;  // zero-initialised: no statement yet
    CommandId command;
};

// Whether `stamp` is the current statement; if not, it becomes it.
inline bool same_statement(StatementStamp* stamp) {
#if PG_VERSION_NUM >= 170000
    LocalTransactionId transaction = MyProc->vxid.lxid;
#else
    LocalTransactionId transaction = MyProc->lxid;
#endif
    CommandId command = GetCurrentCommandId(false);
    if (likely(stamp->transaction == transaction && stamp->command == command))
        return true;
    stamp->transaction = transaction;
    stamp->command = command;
    return false;
}

}  // namespace iam::pg
