// iam_ext on a Citus cluster (docs/reports/scaling.md, "Citus"). iam's
// tables stay on the coordinator, with their rules and audit; each worker
// keeps a copy by logical replication, read by the checks as on one server.
// What the workers cannot know by themselves is who the request is: the
// coordinator sends it along with the request (SET LOCAL, which Citus
// propagates to the worker connections of the transaction).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Whether this node is a Citus worker (its Citus group is not the
// coordinator's, 0). Read once per backend; false without Citus.
bool on_citus_worker();

// On a Citus coordinator, inside a transaction block: sends the request's
// JWT claims and API-key context (the value of iam.request_api_key, or
// nullptr) to the workers this transaction will use. Nothing without Citus.
void forward_identity_to_workers(const char* api_key_context);

// The API-key context the coordinator forwarded (iam.coordinator_api_key),
// which a worker takes as its own; nullptr elsewhere or without one.
const char* forwarded_api_key_context();

// On a coordinator with iam.wait_for_workers on, a transaction that writes
// iam's tables commits once every synchronous worker has applied it.
void wait_for_workers_at_commit();

// Refuses a write to iam's tables on a worker (0A000): they are written on
// the coordinator and replicated.
void refuse_writes_on_worker(Relation relation);

// Defines iam.coordinator_api_key and iam.wait_for_workers (from _PG_init).
void define_citus_settings(GucStringAssignHook forwarded_context_changed);

}  // namespace iam::pg
