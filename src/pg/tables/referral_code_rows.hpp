// The referral_codes rows redemption reads (src/pg/tables/referral_code_rows.cpp),
// through the unique index on code, and the write rules of referrals read,
// through the primary key, whatever the caller may select.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// The referral_codes row with this code, as redemption needs it, or with
// this id, as the write rules of referrals need it.
struct ReferralCodeRow {
    pg_uuid_t id, user_id;
    bool is_active, has_expiry;
    TimestampTz expires_at;
};

// Whether a row has exactly this code (as stored); fills `row` if so.
bool find_referral_code(const IamTables& tables, const char* code, size_t length,
                        ReferralCodeRow* row);

// Whether a row has this id; fills `row` if so.
bool find_referral_code_by_id(const IamTables& tables, const pg_uuid_t& id, ReferralCodeRow* row);

}  // namespace iam::pg
