// Library entry point: what must happen once per backend that loads iam_ext.
#include "pg/api_keys/verification.hpp"
#include "pg/boundary/error_context.hpp"
#include "pg/referrals/attempt_limits.hpp"
#include "pg/identity/context.hpp"
#include "pg/rules/presented_secrets.hpp"
#include "pg/checks/hoist_checks.hpp"
#include "pg/rules/lock_guard.hpp"
#include "pg/api_keys/peppers.hpp"
#include "pg/api_keys/rate_limits.hpp"
#include "pg/checks/call_site.hpp"
#include "pg/checks/company_checks.hpp"
#include "pg/rules/write_rules.hpp"
#include "pg/platform/statement.hpp"

#include <sodium.h>

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

// No C++ objects live here: plain C-style code may ereport directly.
void _PG_init(void) {
    // Idempotent and thread-safe; it picks the fastest implementations for
    // this CPU and makes sure the CSPRNG is seeded before the first key.
    if (sodium_init() < 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("iam_ext could not initialise libsodium")));

    iam::pg::define_identity_settings();
    iam::pg::register_presented_secrets();
    iam::pg::define_pepper_settings();
    iam::pg::define_api_key_settings();
    iam::pg::define_write_rule_settings();
    iam::pg::define_attempt_limit_settings();
    iam::pg::define_company_settings();
    iam::pg::define_check_settings();
    // Preloaded, the counters of failed attempts are one table for the
    // server; loaded later, each backend keeps its own. Rate limits of API
    // keys exist only preloaded.
    // The size of the rate limit table is read at server start: a backend
    // loading the library later may not define it (PGC_POSTMASTER).
    if (process_shared_preload_libraries_in_progress) {
        iam::pg::define_rate_limit_settings();
        iam::pg::request_attempt_limit_memory();
        iam::pg::request_rate_limit_memory();
    }
    iam::pg::track_subtransaction_aborts();
    iam::pg::install_planner_hook();
    iam::pg::install_lock_guard();
    iam::pg::install_error_context_filter();

    // The extension owns the iam.* settings: once loaded, a misspelt
    // SET iam.<name> is an error instead of a setting nothing reads.
    MarkGUCPrefixReserved("iam");
}
