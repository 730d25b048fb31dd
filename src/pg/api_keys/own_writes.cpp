// Backend-local flags, set and cleared by scope (own_writes.hpp). An error
// inside the write unwinds through the scope's destructor (pg_call turns it
// into a C++ exception), so a flag never outlives its write.
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/own_writes.hpp"

#include <cstring>
#include <string_view>

namespace {

struct {
    bool active;
    pg_uuid_t replaced;
    std::string hashed_key;
} rotation;

bool spending = false;

using iam::pg::text_view;

}  // namespace

namespace iam::pg {

RotationCopy::RotationCopy(const pg_uuid_t& replaced, const text* hashed_key) {
    rotation.hashed_key.assign(text_view(hashed_key));
    rotation.replaced = replaced;
    rotation.active = true;
}

RotationCopy::~RotationCopy() {
    rotation.active = false;
    rotation.hashed_key.clear();
}

bool is_rotation_copy(const pg_uuid_t& replaced, const text* hashed_key) {
    return rotation.active && memcmp(rotation.replaced.data, replaced.data, UUID_LEN) == 0 &&
           text_view(hashed_key) == rotation.hashed_key;
}

CreditSpend::CreditSpend() {
    spending = true;
}

CreditSpend::~CreditSpend() {
    spending = false;
}

bool spending_credits() {
    return spending;
}

}  // namespace iam::pg

// iam.is_spending_credits() -> boolean: the WHEN of the api_keys audit
// trigger, which leaves spending out of the audit trail.
IAM_SQL_FUNCTION(iam_is_spending_credits) {
    PG_RETURN_BOOL(iam::pg::spending_credits());
}
