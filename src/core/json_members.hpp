// Members of JSON objects read with jsonb's rules, without PostgreSQL: the
// subject of PostgREST's JWT claims and the API key of its request headers.
// The subject is read the way Supabase's auth.uid() reads it:
// (current_setting('request.jwt.claims')::jsonb ->> 'sub')::uuid.
// iam.current_user_id() must name the same user as auth.uid() for every
// input, so this is a validating scanner with jsonb's rules, not a lenient
// JSON reader. Where PostgreSQL would reject the claims (and auth.uid() raise
// an error) the answer here is "no subject", and the caller treats the
// request as anonymous: failing closed rather than with an error.
#pragma once

#include "core/uuid.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace iam {

// Containers (the top-level object included) open at once beyond this make
// the claims malformed. PostgreSQL's own limit comes from max_stack_depth:
// tens of thousands at the default 2MB, under a thousand at the 100kB
// minimum. Real claims nest two or three deep; a fixed limit keeps the
// scanner's memory and the answer independent of server settings.
inline constexpr std::size_t max_claims_depth = 1000;

// jsonb cannot store a string (key or value) longer than this many bytes,
// once decoded (JENTRY_OFFLENMASK; "string too long to represent as jsonb
// string").
inline constexpr std::size_t max_claims_string_bytes = 0x0FFFFFFF;

// The string value of the top-level key "sub" of the JSON object
// claims_json, decoded, as (claims_json::jsonb ->> 'sub') gives it in a UTF-8
// database. No value when:
// - claims_json is not exactly one JSON value (RFC 8259, whitespace being
//   space, tab, CR and LF only) or is not valid UTF-8;
// - it is valid JSON that jsonb still rejects: a \u0000 escape, a lone
//   surrogate escape, a number outside numeric's range (more than 131072
//   digits before the point, more than 16383 after it, or an exponent of
//   magnitude 1073741823 or more), a string longer than
//   max_claims_string_bytes, nesting deeper than max_claims_depth;
// - the top-level value is not an object, or has no key "sub" (keys compare
//   after unescaping, so "s\u0075b" is "sub"; a "sub" inside a nested object
//   does not count);
// - the value of "sub" is not a string. ->> would give the text of a number,
//   boolean, object or array ("1", "true", "{"a": 1}") and NULL for null; none
//   of those is a UUID, so the subject of such claims is nobody either way.
// When "sub" appears more than once the last one counts, as in jsonb.
// Not modelled: PostgreSQL also refuses claims whose jsonb form is too big
// (256MB per object or array, 1GB per allocation). A number takes 8 bytes
// or more there, so claims of a few tens of megabytes can reach those limits,
// which depend on the layout jsonb builds; no real JWT is that large.
// Time is linear in the input; memory is the returned string.
std::optional<std::string> jwt_claim_sub(std::string_view claims_json) noexcept;

// The string value of the top-level key `name` of the JSON object `json`,
// under the same rules as jwt_claim_sub (which is this with "sub"). Used for
// PostgREST's request.headers as well as the claims.
std::optional<std::string> json_string_member(std::string_view json,
                                              std::string_view name) noexcept;

// The members json_string_members reads in one pass, at most.
inline constexpr std::size_t max_scanned_members = 3;

// values[i] is json_string_member(json, names[i]) for each of the `count`
// names (at most max_scanned_members; none is read beyond that), from one
// pass over the text.
void json_string_members(std::string_view json, const std::string_view* names, std::size_t count,
                         std::optional<std::string>* values) noexcept;

// parse_uuid of jwt_claim_sub: the user the claims name, if any.
std::optional<Uuid> jwt_subject(std::string_view claims_json) noexcept;

// What a JWT's claims name, read in one pass: its subject (jwt_subject) and
// its "session_id" (parse_uuid of json_string_member(claims, "session_id")).
// With a non-empty issuer_claim, also the subject of another identity
// provider: external_subject is the "sub" string when it is not a UUID (an
// Auth0 "auth0|...", a Clerk "user_2..."), and issuer the string value of
// the top-level member issuer_claim ("iss" by default), each under
// json_string_member's rules.
struct JwtIdentity {
    std::optional<Uuid> subject;
    std::optional<Uuid> session;
    std::optional<std::string> external_subject;
    std::optional<std::string> issuer;
};
JwtIdentity jwt_identity(std::string_view claims_json, std::string_view issuer_claim = {}) noexcept;

}  // namespace iam
