// The one place that includes PostgreSQL's server headers. They are C: they
// go inside extern "C", and the Makefile passes their directory with -isystem
// so that C++ warnings about them do not bury ours.
#pragma once

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}
