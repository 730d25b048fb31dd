// iam.raise_not_found(): the not-found error of the PL/pgSQL functions,
// raised through the guard like the C++ ones, so that inside a PostgREST
// request it reaches the client as HTTP 404 (src/pg/boundary/http_errors.hpp).
#include "pg/boundary/guard.hpp"

#include "core/error.hpp"

#include <string>

// iam.raise_not_found(message text, hint text) -> void
IAM_SQL_FUNCTION(iam_raise_not_found) {
    // Both arguments detoasted (which may raise an error) before any C++
    // string is alive.
    text* message = PG_ARGISNULL(0) ? nullptr : PG_GETARG_TEXT_PP(0);
    text* hint = PG_ARGISNULL(1) ? nullptr : PG_GETARG_TEXT_PP(1);
    auto as_string = [](const text* value) {
        return value == nullptr ? std::string()
                                : std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
    };
    std::string text_of_message = as_string(message);
    throw iam::Error(iam::sqlstate::no_data_found,
                     text_of_message.empty() ? "not found" : text_of_message, {}, as_string(hint));
}
