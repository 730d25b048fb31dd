// The referral_codes rows redemption reads (src/pg/tables/referral_code_rows.cpp),
// through the unique index on code, whatever the caller may select.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// The referral_codes row with this code, as redemption needs it.
struct ReferralCodeRow {
    pg_uuid_t id, user_id;
    bool is_active, has_expiry;
    TimestampTz expires_at;
};

// Whether a row has exactly this code (as stored); fills `row` if so.
bool find_referral_code(const IamTables& tables, const char* code, size_t length,
                        ReferralCodeRow* row);

}  // namespace iam::pg
