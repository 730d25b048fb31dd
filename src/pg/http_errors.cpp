#include "http_errors.hpp"

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

void raise_too_many_attempts(const char* message, int retry_after_seconds) {
    char hint[96];
    snprintf(hint, sizeof(hint), "Try again in %d seconds.", retry_after_seconds);
    if (in_postgrest_request()) {
        char headers[64];
        snprintf(headers, sizeof(headers), "{\"Retry-After\":\"%d\"}", retry_after_seconds);
        raise_for_postgrest(429, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, message, nullptr, hint,
                            headers);
    }
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED), errmsg("%s", message),
                    errhint("%s", hint)));
    pg_unreachable();
}

}  // namespace iam::pg
