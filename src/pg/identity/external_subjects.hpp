// Provisioning the subjects of other identity providers on first sight
// (src/pg/identity/external_subjects.cpp).
#pragma once

namespace iam::pg {

// With iam.external_subjects = provision, in a transaction that may write
// and without an API key: maps the request's JWT subject, when no row of
// iam.external_identities does yet, to a new iam.users row (and its
// user_settings), as the owner of iam.external_identities. Otherwise
// nothing. Called by iam.authenticate_request() before anything reads the
// caller's identity.
void provision_external_subject();

}  // namespace iam::pg
