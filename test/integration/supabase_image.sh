#!/usr/bin/env bash
# The self-hosted Supabase image (docker/supabase/Dockerfile) without Docker:
# every step that does not need Docker, in Debian bookworm roots (the
# distribution of the Dockerfile's builder, glibc 2.36).
#   1. The builder stage's script, docker/supabase/build.sh, in a root with
#      the build packages: make STATIC=1, a library needing only the C
#      library family, its symbols checked (only PostgreSQL's entry points
#      exported, nothing of libsodium or the C++ runtime, no glibc newer than
#      2.36).
#   2. The runtime stage's script, docker/supabase/install.sh, in a clean
#      root with the server alone (no libsodium, no libstdc++ dependency of
#      ours, no development package), behind a stand-in for the image's
#      postgres wrapper that exports NIX_PGLIBDIR and a configuration laid out
#      as the image's (supautils list, conf.d): the files it installs and the
#      configuration it writes.
#   3. That server started with that configuration: iam_ext preloaded,
#      CREATE EXTENSION, a key created and verified, a role granted and
#      checked, a rate limit set (shared memory) and a C++ error raised
#      through the static runtime.
# Needs root (chroot). The roots are made once and kept in $IAM_ROOTS.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the Debian roots need root (chroot)"; exit 0; }
[ "$PG_MAJOR" = 15 ] || { echo "SKIP: bookworm's own archive has PostgreSQL 15 only"; exit 0; }

suite=bookworm
work=$(mktemp -d /tmp/iam_ext_supabase.XXXXXX)
chmod 755 "$work"
cleanup() {
    [ -f "$work/run/var/lib/postgresql/iam/postmaster.pid" ] &&
        in_chroot "$work/run" runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl \
            -D /var/lib/postgresql/iam -m immediate -w stop >/dev/null 2>&1
    unmount_roots
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# 1. The builder stage.
package_root "$suite" iam-build-15 "$work/build" make g++ pkg-config binutils libsodium-dev postgresql-server-dev-15
mount_root "$work/build"
mkdir -p "$work/build/src/iam_ext"
(cd "$IAM_ROOT" && git ls-files -co --exclude-standard | tar -cf - -T -) | tar -xf - -C "$work/build/src/iam_ext"
say "the builder stage: docker/supabase/build.sh in a Debian $suite root"
in_chroot "$work/build" PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config /src/iam_ext/docker/supabase/build.sh /out
library=$work/build/src/iam_ext/iam_ext.so
exported=$(nm -D --defined-only "$library" | awk '{print $3}')
stray=$(grep -v -E '^(Pg_magic_func|_PG_init|pg_finfo_iam_[a-z_]+|iam_[a-z_]+)$' <<<"$exported" || true)
[ -z "$stray" ] || die "the static library exports more than PostgreSQL's entry points: $(echo $stray)"
grep -q '^pg_finfo_iam_verify_api_key$' <<<"$exported" || die "the static library lost its SQL functions"
newest_glibc=$(nm -D --undefined-only "$library" | sed -n 's/.*@GLIBC_//p' | sort -uV | tail -n 1)
[ "$(printf '%s\n' "$newest_glibc" 2.36 | sort -V | tail -n 1)" = 2.36 ] ||
    die "the library needs glibc $newest_glibc, newer than bookworm's 2.36"
echo "exports: Pg_magic_func, _PG_init and $(grep -c '^iam_' <<<"$exported") SQL functions; newest glibc symbol $newest_glibc"

# 2. The runtime stage, in a root with the server alone.
package_root "$suite" postgresql-15 "$work/run" postgresql-15
for package in libsodium23 libsodium-dev postgresql-server-dev-15 g++ libstdc++-12-dev; do
    if in_chroot "$work/run" dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        die "the clean root has $package"
    fi
done
mount_root "$work/run"
cp -a "$work/build/out" "$work/run/tmp/iam_ext"
cp "$IAM_ROOT/docker/supabase/install.sh" "$work/run/tmp/iam_ext-install.sh"
# The image's /usr/bin/postgres is a wrapper that exports NIX_PGLIBDIR, the
# server's $libdir; Debian's server has its $libdir at pkglibdir, so the
# stand-in names that.
cat >"$work/run/usr/local/bin/postgres" <<'WRAPPER'
#!/bin/sh
export NIX_PGLIBDIR='/usr/lib/postgresql/15/lib'
exec /usr/lib/postgresql/15/bin/postgres "$@"
WRAPPER
chmod 755 "$work/run/usr/local/bin/postgres"
# The image's layout: postgresql.conf with a preload list, supautils' list in
# a file of its own, and conf.d read after both.
mkdir -p "$work/run/etc/postgresql-custom/conf.d"
cat >"$work/run/etc/postgresql/postgresql.conf" <<'CONF'
data_directory = '/var/lib/postgresql/iam'
hba_file = '/var/lib/postgresql/iam/pg_hba.conf'
ident_file = '/var/lib/postgresql/iam/pg_ident.conf'
listen_addresses = ''
unix_socket_directories = '/tmp'
# A chroot's /dev has no /dev/shm of its own to share.
dynamic_shared_memory_type = sysv
shared_preload_libraries = 'pg_stat_statements'
include = '/etc/postgresql-custom/supautils.conf'
include_dir = '/etc/postgresql-custom/conf.d'
CONF
echo "supautils.privileged_extensions = 'pgcrypto, pg_stat_statements'" >"$work/run/etc/postgresql-custom/supautils.conf"
say "the runtime stage: docker/supabase/install.sh in a clean Debian $suite root"
in_chroot "$work/run" IAM_POSTGRES_WRAPPER=/usr/local/bin/postgres \
    IAM_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config sh /tmp/iam_ext-install.sh /tmp/iam_ext
written=$(grep -v '^#' "$work/run/etc/postgresql-custom/conf.d/90-iam_ext.conf")
[ "$written" = "shared_preload_libraries = 'pg_stat_statements, iam_ext'
supautils.privileged_extensions = 'pgcrypto, pg_stat_statements, iam_ext'" ] ||
    die "install.sh wrote an unexpected configuration: $written"
# Run again (a rebuild on top of the image): iam_ext is not added twice.
in_chroot "$work/run" IAM_POSTGRES_WRAPPER=/usr/local/bin/postgres \
    IAM_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config sh /tmp/iam_ext-install.sh /tmp/iam_ext >/dev/null
[ "$(grep -v '^#' "$work/run/etc/postgresql-custom/conf.d/90-iam_ext.conf")" = "$written" ] ||
    die "a second install.sh changed the configuration"
deps=$(in_chroot "$work/run" ldd /usr/lib/postgresql/15/lib/iam_ext.so)
echo "$deps"
if grep -v -E '^\s*(linux-vdso\.so|libc\.so\.6|libm\.so\.6|/lib64/ld-linux)' <<<"$deps" | grep -q .; then
    die "the installed library needs more than the C library family"
fi

# 3. The server with that configuration.
in_chroot "$work/run" bash -ec "
    mkdir -p /var/lib/postgresql/iam && chown postgres: /var/lib/postgresql/iam
    cd /tmp
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /var/lib/postgresql/iam -A trust >/dev/null
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/iam -l /tmp/server.log -w \
        -o '-c config_file=/etc/postgresql/postgresql.conf' start >/dev/null" ||
    { cat "$work/run/tmp/server.log"; die "the server did not start with the written configuration"; }
smoke=$(in_chroot "$work/run" runuser -u postgres -- psql -X -q -tA -v ON_ERROR_STOP=1 -h /tmp <<'SQL'
SELECT 'preloaded: ' || current_setting('shared_preload_libraries');
CREATE EXTENSION iam_ext;
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'iam_ext';
INSERT INTO iam.users (id, email) VALUES ('0c0ffee0-0000-4000-8000-000000000001', 'ada@example.com');
SELECT 'role granted: ' || iam.grant_role('0c0ffee0-0000-4000-8000-000000000001', 'platform_admin');
SET request.jwt.claims = '{"sub": "0c0ffee0-0000-4000-8000-000000000001", "role": "authenticated"}';
SELECT 'has platform_admin: ' || iam.has_role('platform_admin') || ', has solo_learner: ' || iam.has_role('solo_learner');
CREATE TEMP TABLE smoke_key AS SELECT id, api_key FROM iam.create_api_key('smoke');
SELECT 'key verifies: ' || (SELECT count(*) FROM smoke_key, iam.verify_api_key(smoke_key.api_key));
SELECT 'wrong secret verifies: ' || (SELECT count(*) FROM smoke_key, iam.verify_api_key(
    left(api_key, -1) || CASE WHEN right(api_key, 1) = 'x' THEN 'y' ELSE 'x' END));
RESET request.jwt.claims;
SELECT iam.set_api_key_rate_limit(id, 5, '1 minute') FROM smoke_key \gset
SELECT 'rate limit set: ' || rate_limit || ' per ' || rate_limit_window
FROM iam.api_keys JOIN smoke_key USING (id);
-- Refused by the C++ write rules: an exception thrown and caught inside the
-- library, through its own copy of the C++ runtime.
DO $$
BEGIN
    UPDATE iam.api_keys SET rate_limit = 0 WHERE id = (SELECT id FROM smoke_key);
EXCEPTION WHEN invalid_parameter_value THEN
    PERFORM set_config('smoke.error', SQLERRM, false);
END $$;
SELECT 'out-of-range limit: ' || current_setting('smoke.error');
SQL
) || { cat "$work/run/tmp/server.log"; die "the smoke test failed in the clean root"; }
printf '%s\n' "$smoke"
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control")
expected="preloaded: pg_stat_statements, iam_ext
version $version
role granted: true
has platform_admin: true, has solo_learner: false
key verifies: 1
wrong secret verifies: 0
rate limit set: 5 per 00:01:00
out-of-range limit: a rate limit is a positive number of requests per 1 second to 1 day"
[ "$smoke" = "$expected" ] || die "the static library did not answer as expected in the clean root"
echo "PASS: the STATIC=1 library, built and installed by the Supabase image's scripts, works in a root without libsodium"
