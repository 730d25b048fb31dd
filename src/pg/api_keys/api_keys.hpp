// API keys, the folder's interface in one include: verifying them
// (verification.hpp), their permissions (permissions.hpp) and issuing them
// (issuing.hpp). Code that needs one part includes its header.
#pragma once

#include "pg/api_keys/issuing.hpp"
#include "pg/api_keys/permissions.hpp"
#include "pg/api_keys/verification.hpp"
