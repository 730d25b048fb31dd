// The api_key_peppers rows the API-key hashes are keyed with
// (src/pg/tables/pepper_rows.cpp), read through the table's primary key.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

constexpr int pepper_bytes = 32;  // the table's CHECK (octet_length(pepper) = 32)

// A pepper row. The caller wipes it (sodium_memzero) once it is done.
struct PepperRow {
    int32 version;
    unsigned char pepper[pepper_bytes];
};

// The row of `version`, or the highest version if `version` is 0, as
// `snapshot` sees it; false if there is none (or its pepper is not 32
// bytes).
bool find_pepper_row(const IamTables& tables, int32 version, Snapshot snapshot, PepperRow* row);

}  // namespace iam::pg
