#include "pg/boundary/http_errors.hpp"

#include "core/counted.hpp"

namespace iam::pg {
namespace {

void append_json_field(StringInfo json, const char* name, const char* value) {
    appendStringInfo(json, ",\"%s\":", name);
    if (value == nullptr)
        appendStringInfoString(json, "null");
    else
        escape_json(json, value);
}

}  // namespace

int http_status_override(int sqlerrcode) noexcept {
    switch (sqlerrcode) {
        case ERRCODE_NO_DATA_FOUND:
            return 404;
        case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
            return 401;
        case ERRCODE_CONFIGURATION_LIMIT_EXCEEDED:
            return 429;
        default:
            return 0;
    }
}

bool in_postgrest_request() noexcept {
    const char* method = GetConfigOption("request.method", true, false);
    return method != nullptr && method[0] != '\0';
}

void raise_for_postgrest(int http_status, int sqlerrcode, const char* message, const char* detail,
                         const char* hint, const char* headers) {
    StringInfoData body;
    initStringInfo(&body);
    appendStringInfo(&body, "{\"code\":\"%s\"", unpack_sql_state(sqlerrcode));
    append_json_field(&body, "message", message);
    append_json_field(&body, "details", detail);
    append_json_field(&body, "hint", hint);
    appendStringInfoChar(&body, '}');

    // A 401 names the scheme the client should use (RFC 9110, 11.6.1).
    if (headers == nullptr)
        headers = http_status == 401 ? "{\"WWW-Authenticate\":\"ApiKey\"}" : "{}";
    ereport(ERROR,
            (errcode(MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T')), errmsg_internal("%s", body.data),
             errdetail_internal("{\"status\":%d,\"headers\":%s}", http_status, headers)));
    pg_unreachable();
}

ErrorWithHeaders too_many_requests(const std::string& message, int retry_after_seconds) {
    std::string seconds = std::to_string(retry_after_seconds);
    return ErrorWithHeaders(
        iam::sqlstate::configuration_limit_exceeded, message,
        "Try again in " + iam::counted(retry_after_seconds, "second", "seconds") + ".",
        "{\"Retry-After\":\"" + seconds + "\"}");
}

void add_response_header(const char* name, const char* value) {
    const char* existing = GetConfigOption("response.headers", true, false);
    StringInfoData headers;
    initStringInfo(&headers);
    size_t length = existing == nullptr ? 0 : strlen(existing);
    // An array someone set already keeps its headers; anything else is
    // replaced, as PostgREST would refuse it.
    bool extend = length >= 2 && existing[0] == '[' && existing[length - 1] == ']';
    if (extend) {
        appendBinaryStringInfo(&headers, existing, static_cast<int>(length - 1));
        if (strspn(existing + 1, " \t\n") < length - 2)
            appendStringInfoChar(&headers, ',');
    } else {
        appendStringInfoChar(&headers, '[');
    }
    appendStringInfoChar(&headers, '{');
    escape_json(&headers, name);
    appendStringInfoChar(&headers, ':');
    escape_json(&headers, value);
    appendStringInfoString(&headers, "}]");
    (void)set_config_option("response.headers", headers.data, PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_LOCAL, true, 0, false);
    pfree(headers.data);
}

}  // namespace iam::pg
