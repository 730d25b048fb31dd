#include "pg/platform/statement.hpp"

namespace iam::pg {

uint64 subtransactions_aborted = 0;

namespace {
void count_subtransaction_abort(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        ++subtransactions_aborted;
}
}  // namespace

void track_subtransaction_aborts() {
    RegisterSubXactCallback(count_subtransaction_abort, nullptr);
}

}  // namespace iam::pg
