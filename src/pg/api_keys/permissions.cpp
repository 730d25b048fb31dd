// An API key's permissions: the JSON array a key holds, checked and
// compared with the grammar of src/core/api_key.cpp, and the SQL questions
// about them (iam.api_key_has_permission, has_permission).
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/permissions.hpp"
#include "pg/api_keys/verification.hpp"
#include "pg/identity/context.hpp"

#include "core/api_key.hpp"
#include "core/error.hpp"

#include <string>
#include <string_view>

namespace {

// Calls visit(element) for each element of a JSON array, in order: a
// string as its text, anything else as nullptr.
template <typename Visit>
void for_each_element(const Jsonb* array, Visit visit) {
    JsonbIterator* iterator = JsonbIteratorInit(const_cast<JsonbContainer*>(&array->root));
    JsonbValue value;
    JsonbIteratorToken token;
    while ((token = JsonbIteratorNext(&iterator, &value, true)) != WJB_DONE) {
        if (token != WJB_ELEM)
            continue;
        if (value.type != jbvString) {
            visit(nullptr);
            continue;
        }
        std::string_view element(value.val.string.val, value.val.string.len);
        visit(&element);
    }
}

bool is_array(const Jsonb* value) {
    return JB_ROOT_IS_ARRAY(value) && !JB_ROOT_IS_SCALAR(value);
}

}  // namespace

bool iam::pg::permissions_cover_all(const Jsonb* granted, const Jsonb* wanted) {
    if (wanted == nullptr || !is_array(wanted))
        return true;
    bool covered = true;
    for_each_element(wanted, [&](const std::string_view* permission) {
        if (covered)
            covered = permission != nullptr && permissions_cover(granted, *permission);
    });
    return covered;
}

void iam::pg::require_valid_permissions(const Jsonb* permissions) {
    if (!is_array(permissions))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "permissions must be a JSON array of strings", {},
                         "For example '[\"courses:read\", \"reports:*\"]'.");
    if (JB_ROOT_COUNT(permissions) > iam::max_api_key_permissions)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "an API key has at most " + std::to_string(iam::max_api_key_permissions) +
                             " permissions",
                         {}, "Use wildcards such as \"courses:*\" to grant many at once.");
    int position = 0;
    for_each_element(permissions, [&](const std::string_view* permission) {
        if (permission == nullptr || !iam::is_valid_permission(*permission))
            throw iam::Error(iam::sqlstate::invalid_parameter_value,
                             "permissions[" + std::to_string(position) + "] is not a permission",
                             "A permission is 1 to 200 printable characters without spaces, "
                             "such as \"courses:read\", \"courses:*\" or \"*\".");
        ++position;
    });
}

// iam.api_key_has_permission(api_key text, permission text) -> boolean:
// false for an invalid key; does not touch last_used_at
IAM_SQL_FUNCTION(iam_api_key_has_permission) {
    iam::pg::KeyCallSite* site = iam::pg::key_call_site(fcinfo);
    iam::pg::ApiKeyRow row{};
    if (!iam::pg::verify_api_key(site->tables, PG_GETARG_TEXT_PP(0), iam::pg::LastUse::ignore,
                                 &row))
        PG_RETURN_BOOL(false);
    PG_RETURN_BOOL(iam::pg::permissions_cover(row.permissions, PG_GETARG_TEXT_PP(1)));
}

// iam.has_permission(permission text) -> boolean: whether the API key of the
// current request (iam.authenticate_request) grants it, as the statement
// sees the key; false without one
IAM_SQL_FUNCTION(iam_has_permission) {
    PG_RETURN_BOOL(iam::pg::permissions_cover(iam::pg::request_key_scope(), PG_GETARG_TEXT_PP(0)));
}
