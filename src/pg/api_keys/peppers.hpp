// The server secrets (peppers) that key the API-key hashes: from the file
// named by iam.pepper_file when an operator keeps them outside the database,
// else from table iam.api_key_peppers, which no client role can read.
#pragma once

#include "pg/boundary/postgres.hpp"

#include <array>

namespace iam::pg {

using Pepper = std::array<unsigned char, 32>;

// The pepper of `version`; false if there is none.
bool find_pepper(int version, Pepper* pepper);

// The version new keys use (the highest), generating version 1 in the table
// on first use. An error (22023) if the file is set but holds no pepper.
int current_pepper(Pepper* pepper);

// Adds version max + 1 to the table; returns it. 55000 with a pepper file.
int rotate_pepper();

// Defines iam.pepper_file (from _PG_init).
void define_pepper_settings();

}  // namespace iam::pg
