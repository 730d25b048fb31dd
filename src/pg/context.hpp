// Who is calling: the identity context shared by iam.current_user_id() and
// the role checks (DESIGN.md, "Identity context").
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// The caller's user id, read as Supabase's auth.uid() reads it: the legacy
// request.jwt.claim.sub setting if non-empty, else request.jwt.claims ->>
// 'sub'. Anything that is not a UUID counts as no user (logged at DEBUG1).
//
// The JSON is parsed only when one of the two settings changed since the
// call site's last call (a generation counter bumped by their assign hooks,
// so a policy evaluating this once per row costs one integer comparison per
// row). The cache lives in `cache`, which belongs to one call site (its
// fn_extra) and is allocated in `memory`. Returns false when there is no
// user.
struct SubjectCache;
bool current_subject(SubjectCache** cache, MemoryContext memory, pg_uuid_t* user_id);

// Defines request.jwt.claim.sub and request.jwt.claims as settings of this
// library (from _PG_init), so that every change to them, including the
// restore at transaction end, passes through our assign hook. Values set
// before the library was loaded are kept.
void define_identity_settings();

}  // namespace iam::pg
