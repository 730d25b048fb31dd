#include "pg/identity/request_key.hpp"

#include "pg/boundary/guard.hpp"

#include "pg/identity/context.hpp"

#include "core/api_key.hpp"

bool iam::pg::permissions_cover(const Jsonb* permissions, std::string_view wanted) {
    if (permissions == nullptr || !JB_ROOT_IS_ARRAY(permissions) || JB_ROOT_IS_SCALAR(permissions))
        return false;
    JsonbIterator* iterator = JsonbIteratorInit(const_cast<JsonbContainer*>(&permissions->root));
    JsonbValue value;
    JsonbIteratorToken token;
    bool covered = false;
    while ((token = JsonbIteratorNext(&iterator, &value, true)) != WJB_DONE) {
        if (token == WJB_ELEM && value.type == jbvString && !covered)
            covered = iam::permission_covers(
                std::string_view(value.val.string.val, value.val.string.len), wanted);
    }
    return covered;
}

bool iam::pg::permissions_cover(const Jsonb* permissions, const text* wanted) {
    return permissions_cover(permissions,
                             std::string_view(VARDATA_ANY(wanted), VARSIZE_ANY_EXHDR(wanted)));
}

// iam.current_api_key_id() -> uuid: the key that authenticated this request
// (iam.authenticate_request), from the transaction's API-key context, which
// no client can set; NULL without one.
IAM_SQL_FUNCTION(iam_current_api_key_id) {
    const iam::pg::ApiKeyContext* key = iam::pg::api_key_context();
    if (key == nullptr)
        PG_RETURN_NULL();
    auto* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *id = key->key_id;
    PG_RETURN_UUID_P(id);
}
