// Errors that reach an HTTP client through PostgREST. PostgREST turns a
// SQLSTATE into an HTTP status by a fixed table (docs.postgrest.org,
// "Errors"), which answers 500 for P0002 (all of class P0 but P0001) and 403
// for 28000. Inside a PostgREST request, an error of ours with one of those
// SQLSTATEs is raised instead in PostgREST's own format (SQLSTATE "PGRST",
// PostgREST 12 and later): the client gets 404 or 401, and the JSON body
// still carries the SQLSTATE as its "code". Outside a request nothing changes.
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// The HTTP status a request should get for this SQLSTATE when PostgREST's
// table gets it wrong; 0 when PostgREST's own answer is right.
int http_status_override(int sqlerrcode) noexcept;

// True inside a transaction PostgREST opened for a request: it sets
// request.method in every one, and the setting is local to the transaction.
bool in_postgrest_request() noexcept;

// Raises the error in PostgREST's format with the given HTTP status and
// response headers (a JSON object; nullptr: those the status implies).
[[noreturn]] void raise_for_postgrest(int http_status, int sqlerrcode, const char* message,
                                      const char* detail, const char* hint,
                                      const char* headers = nullptr);

// Raises 53400 with a hint saying when to try again; inside a PostgREST
// request, as HTTP 429 with a Retry-After header. Plain C: call it where no
// C++ object is alive.
[[noreturn]] void raise_too_many_attempts(const char* message, int retry_after_seconds);

}  // namespace iam::pg
