#include "pg/identity/request_key.hpp"

#include "pg/boundary/guard.hpp"

#include "pg/identity/context.hpp"
#include "pg/platform/statement.hpp"
#include "pg/tables/api_key_rows.hpp"

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

namespace {

// The last statement's answer, its copy of the scope in the transaction's
// memory: a new transaction has another stamp, so the copy is never read
// after its memory went.
struct ScopeOfStatement {
    iam::pg::StatementStamp statement;
    bool known;
    pg_uuid_t key_id;
    Jsonb* scope;
} scope_of_statement;

}  // namespace

const Jsonb* iam::pg::request_key_scope() {
    const ApiKeyContext* key = api_key_context();
    if (key == nullptr)
        return nullptr;
    ScopeOfStatement& last = scope_of_statement;
    if (same_statement(&last.statement) && last.known &&
        memcmp(last.key_id.data, key->key_id.data, UUID_LEN) == 0)
        return last.scope;
    last.known = false;
    last.scope = nullptr;
    IamTables tables;
    resolve_iam_tables(&tables);
    ApiKeyRow row{};
    if (find_api_key_by_id(tables, key->key_id, &row) &&
        api_key_stands(tables, &row, GetCurrentStatementStartTimestamp()) &&
        row.permissions != nullptr) {
        last.scope = static_cast<Jsonb*>(
            MemoryContextAlloc(TopTransactionContext, VARSIZE(row.permissions)));
        memcpy(last.scope, row.permissions, VARSIZE(row.permissions));
    }
    last.key_id = key->key_id;
    last.known = true;
    return last.scope;
}
