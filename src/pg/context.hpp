// Who is calling: the identity context shared by iam.current_user_id() and
// the role checks (DESIGN.md, "Identity context").
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// The caller's user id, read as Supabase's auth.uid() reads it: the legacy
// request.jwt.claim.sub setting if non-empty, else request.jwt.claims ->>
// 'sub'. Anything that is not a UUID counts as no user (logged at DEBUG1).
//
// The settings are compared with the previous call's on every call and the
// JSON is parsed only when they changed, so a policy evaluating this once
// per row parses the claims once per statement. The cache lives in `cache`,
// which belongs to one call site (its fn_extra) and is allocated in
// `memory`. Returns false when there is no user.
struct SubjectCache;
bool current_subject(SubjectCache** cache, MemoryContext memory, pg_uuid_t* user_id);

}  // namespace iam::pg
