# iam_ext: a PGXS makefile. `make && make install` builds and installs the
# extension like any other; `make installcheck` runs the pg_regress suite
# against a running server. The two user commands are at the end:
# `make run` and `make test` (see README.md).

EXTENSION  = iam_ext
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" iam_ext.control)
MODULE_big = iam_ext
OBJS       = $(patsubst %.cpp,%.o,$(sort $(wildcard src/core/*.cpp src/pg/*.cpp src/pg/*/*.cpp)))

# The current schema lives in sql/schema/, one concern per file, in its final
# form: tables.sql creates the tables once; every other file only defines
# (CREATE OR REPLACE) functions, triggers, views and policies, so it can run
# again. The install script of the current version is assembled from all of
# them; the upgrade from the last release is its hand-written part
# (sql/upgrades/to-<version>.sql: tables, data, what goes away) followed by
# the definitions. Released scripts are frozen in sql/upgrades/
# (docs/development.md, "Changing SQL").
PREVIOUS_VERSION = 0.7.0
SCHEMA_TABLES      = sql/schema/tables.sql
SCHEMA_DEFINITIONS = $(addprefix sql/schema/,updated_at.sql checks.sql audit.sql roles.sql permissions.sql api_keys.sql \
                       referrals.sql companies.sql identities.sql policies.sql supabase.sql)
CURRENT_SCRIPT = sql/$(EXTENSION)--$(EXTVERSION).sql
CURRENT_UPGRADE = sql/$(EXTENSION)--$(PREVIOUS_VERSION)--$(EXTVERSION).sql
UPGRADE_TABLES  = sql/upgrades/to-$(EXTVERSION).sql
DATA_built     = $(CURRENT_SCRIPT) $(CURRENT_UPGRADE)
DATA           = $(sort $(wildcard sql/upgrades/$(EXTENSION)--*.sql))

# pg_regress: inputs in sql/, expected output in expected/.
REGRESS      = create_extension catalog boundary schema_defaults constraints updated_at roles hoist_checks \
               tenant_checks check_scale rewrite_equivalence api_keys referrals write_rules companies api_key_lifecycle \
               api_key_usage jwt_revocation usage_rules session_identity permissions external_identities \
               user_errors
REGRESS_OPTS = --inputdir=.

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(CURDIR)/src -isystem $(shell $(PG_CONFIG) --includedir-server)
# -Wshadow=compatible-local: what PostgreSQL 17 and 18 build with, on every
# server, so that a warning there is one here too.
PG_CXXFLAGS = -std=c++17 -Wextra -Wno-unused-parameter -Wshadow=compatible-local $(if $(IAM_WERROR),-Werror)
# `make STATIC=1`: a library whose only dependencies are the C library
# family (libc, libm, the dynamic loader), for servers that have no
# libsodium or libstdc++ of their own, such as the supabase/postgres image
# (docs/supabase-image.md). libsodium and the C++ runtime (libstdc++, libgcc's
# unwinder) are linked in from their static archives, and every symbol of
# theirs is made local (--exclude-libs), as are our own C++ symbols (the
# version script): only PostgreSQL's entry points stay visible, so these
# copies never interpose on, or get interposed by, another library the server
# loads. Switching between the two builds relinks (the .link-flags stamp).
ifeq ($(STATIC),1)
SODIUM_ARCHIVE  = $(shell pkg-config --variable=libdir libsodium 2>/dev/null || echo /usr/lib)/libsodium.a
LIBSTDCXX_ARCHIVE = $(shell g++ -print-file-name=libstdc++.a)
SHLIB_LINK += $(SODIUM_ARCHIVE) $(LIBSTDCXX_ARCHIVE) -static-libgcc -lm -Wl,--exclude-libs,ALL \
              -Wl,--version-script=$(CURDIR)/src/pg/exports.map
else
SHLIB_LINK += -lsodium -lstdc++
endif

# The functions are opaque calls from SQL: JIT inlining of their bitcode buys
# nothing, and building it would need clang at every install.
override with_llvm = no

# The boundary probe: a test-only library that throws C++ exceptions and
# raises PostgreSQL errors under live C++ objects (test/boundary). It is
# loaded by the boundary regression test from the build tree, never installed.
BOUNDARY_PROBE = test/boundary/iam_boundary_probe$(DLSUFFIX)
REGRESS_PREP   = $(BOUNDARY_PROBE)
export IAM_BOUNDARY_PROBE ?= $(CURDIR)/$(BOUNDARY_PROBE)
EXTRA_CLEAN    = $(BOUNDARY_PROBE) test/boundary/*.o

# `make run` and `make test` install the build dependencies themselves, so
# they must work before pg_config exists.
USER_COMMANDS = run stop test test-citus unit bench deb fuzz format help
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else ifneq ($(filter-out $(USER_COMMANDS),$(or $(MAKECMDGOALS),all)),)
$(error $(PG_CONFIG) not found: install postgresql-server-dev-15, or run `make run` / `make test`, which do)
endif

# Rebuilds of a tree that moves between branches are cheap with ccache.
ifneq ($(shell command -v ccache),)
CXX := ccache $(CXX)
endif

# The library is relinked when its link flags change (STATIC=1 or not).
$(MODULE_big)$(DLSUFFIX): .link-flags
.link-flags: FORCE
	@printf '%s\n' '$(SHLIB_LINK)' | cmp -s - $@ || printf '%s\n' '$(SHLIB_LINK)' >$@
.PHONY: FORCE
EXTRA_CLEAN += .link-flags

$(BOUNDARY_PROBE): test/boundary/boundary_probe.o src/pg/boundary/guard.o src/pg/boundary/http_errors.o \
                   src/core/error.o
	$(CXX) $(CXXFLAGS) $^ $(LDFLAGS) $(LDFLAGS_SL) -shared -lstdc++ -o $@

$(OBJS) test/boundary/boundary_probe.o: $(wildcard src/core/*.hpp src/pg/*/*.hpp)

$(CURRENT_SCRIPT): $(SCHEMA_TABLES) $(SCHEMA_DEFINITIONS) iam_ext.control
	{ printf '%s\n' '-- iam_ext $(EXTVERSION), assembled by make from sql/schema/: edit those.' '' \
	      '\echo Use "CREATE EXTENSION iam_ext" to load this file. \quit' ''; \
	  for source in $(SCHEMA_TABLES) $(SCHEMA_DEFINITIONS); do cat $$source; echo; done; } >$@

$(CURRENT_UPGRADE): $(UPGRADE_TABLES) sql/upgrades/replace_definitions.sql $(SCHEMA_DEFINITIONS) iam_ext.control
	{ printf '%s\n' '-- iam_ext $(PREVIOUS_VERSION) -> $(EXTVERSION), assembled by make from $(UPGRADE_TABLES)' \
	      '-- and sql/schema/: edit those.' '' \
	      '\echo Use "ALTER EXTENSION iam_ext UPDATE TO '"'"'$(EXTVERSION)'"'"'" to load this file. \quit' ''; \
	  for source in $(UPGRADE_TABLES) sql/upgrades/replace_definitions.sql $(SCHEMA_DEFINITIONS); do \
	      cat $$source; echo; done; } >$@

.PHONY: $(USER_COMMANDS)
run:      ## a local PostgreSQL with iam_ext, demo data and a walkthrough
	@test/run_demo.sh
stop:     ## stop the server that `make run` started
	@test/run_demo.sh --stop
test:     ## every test layer, each on a throwaway cluster
	@test/run_tests.sh
test-citus: ## iam_ext on a Citus coordinator and two workers (CITUS_TARBALL=<Citus source>)
	@test/citus.sh
bench:    ## benchmarks: iam_ext against the usual peer and the floor, as ratios
	@bench/run.sh
deb:      ## the Debian package postgresql-<major>-iam-ext, in dist/
	@test/build_deb.sh
unit:     ## the Catch2 suite alone (no PostgreSQL needed)
	@test/run_tests.sh --unit-only
fuzz:     ## every libFuzzer target of the core for IAM_FUZZ_SECONDS (default 60)
	@test/run_fuzz.sh
format:   ## clang-format the C++ in place
	clang-format -i $(CXX_SOURCES)
help:     ## this list
	@sed -n 's/^\([a-z-]*\): *## /  make \1\t/p' $(firstword $(MAKEFILE_LIST)) | expand -t 20
	@echo '  make test ONLY=<layer>: one layer (unit-catch2, regress-pg_regress, pgtap-pg_prove,'
	@echo '    integration-<script>, ...); IAM_WERROR=1 makes compiler warnings errors'

CXX_SOURCES = $(wildcard src/core/*.[ch]pp src/pg/*.[ch]pp src/pg/*/*.[ch]pp test/unit/*.cpp test/boundary/*.cpp \
                test/fuzz/*.cpp)
