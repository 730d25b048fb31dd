// Errors that reach an HTTP client through PostgREST. PostgREST turns a
// SQLSTATE into an HTTP status by a fixed table (docs.postgrest.org,
// "Errors"), which answers 500 for P0002 (all of class P0 but P0001) and 403
// for 28000. Inside a PostgREST request, an error of ours with one of those
// SQLSTATEs is raised instead in PostgREST's own format (SQLSTATE "PGRST",
// PostgREST 12 and later): the client gets 404 or 401, and the JSON body
// still carries the SQLSTATE as its "code". Outside a request nothing changes.
#pragma once

#include "pg/boundary/postgres.hpp"

#include "core/error.hpp"

#include <string>

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

// An error whose answer to an HTTP client carries response headers.
class ErrorWithHeaders : public iam::Error {
  public:
    ErrorWithHeaders(std::string_view sqlstate, const std::string& message, std::string hint,
                     std::string headers)
        : iam::Error(sqlstate, message, {}, std::move(hint)), headers_(std::move(headers)) {}
    // A JSON object of header names and values.
    const std::string& headers() const noexcept { return headers_; }

  private:
    std::string headers_;
};

// 53400 with a hint saying when to try again; inside a PostgREST request,
// HTTP 429 with a Retry-After header.
ErrorWithHeaders too_many_requests(const std::string& message, int retry_after_seconds);

// Adds a header to the response PostgREST sends for this request (the
// transaction's response.headers, a JSON array of one-header objects).
void add_response_header(const char* name, const char* value);

}  // namespace iam::pg
