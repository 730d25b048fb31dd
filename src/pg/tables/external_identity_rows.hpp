// The iam.external_identities rows a request's JWT is resolved through
// (src/pg/tables/external_identity_rows.cpp): which iam user another identity
// provider's subject is, through external_identities_pkey, whatever the
// caller may select.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// The user the provider `issuer` knows as `subject` (neither NUL-terminated
// nor containing NUL), copied to *user_id; false when no row maps them, and
// on a schema older than 0.8.0, which has no such table. One probe of the
// primary key under `snapshot` (by default statement_snapshot()).
bool external_identity_user(const IamTables& tables, const char* issuer, size_t issuer_length,
                            const char* subject, size_t subject_length, pg_uuid_t* user_id,
                            Snapshot snapshot = nullptr);

}  // namespace iam::pg
