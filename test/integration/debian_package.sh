#!/usr/bin/env bash
# The Debian package as a user meets it: `make deb`, then
# `apt-get install ./postgresql-<major>-iam-ext_<version>_<arch>.deb` into a
# clean root of this machine's Debian (which brings the server and libsodium
# as dependencies), and there: CREATE EXTENSION iam_ext, a smoke query that
# goes through the library and libsodium, DROP EXTENSION leaving nothing of
# the schema behind. Needs root (chroot) and Debian's archive.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package into a clean root needs root"; exit 0; }

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control")
rm -f "$IAM_ROOT"/dist/postgresql-"$PG_MAJOR"-iam-ext_*.deb
"$IAM_ROOT/test/build_deb.sh"
package=$(ls "$IAM_ROOT"/dist/postgresql-"$PG_MAJOR"-iam-ext_"$version"_*.deb)

clean=$(mktemp -d /tmp/iam_ext_clean_root.XXXXXX)
cleanup() { unmount_roots; rm -rf --one-file-system "$clean"; }
trap cleanup EXIT
suite=$(debian_suite)
debian_root "$suite" "$clean"
mount_root "$clean"
cp "$package" "$clean/tmp/"
say "apt-get install ./$(basename "$package") in a clean Debian $suite root"
in_chroot "$clean" bash -c "apt-get update -qq && apt-get install -y -qq ./tmp/$(basename "$package")" \
    >"$clean/tmp/apt.log" 2>&1 || { tail -n 30 "$clean/tmp/apt.log"; die "apt-get install failed"; }
in_chroot "$clean" dpkg-query -W -f='${Package} ${Version} ${Status}\n' "postgresql-$PG_MAJOR-iam-ext"

# A server of the root's own PostgreSQL, on a socket inside the root only.
in_chroot "$clean" bash -ec "
    mkdir -p /tmp/pg && chown postgres: /tmp/pg
    cd /tmp/pg
    runuser -u postgres -- /usr/lib/postgresql/$PG_MAJOR/bin/initdb -D /tmp/pg/data -A trust >/dev/null
    runuser -u postgres -- /usr/lib/postgresql/$PG_MAJOR/bin/pg_ctl -D /tmp/pg/data -l /tmp/pg/log -w \
        -o \"-k /tmp/pg -c listen_addresses=''\" start >/dev/null"
smoke=$(in_chroot "$clean" runuser -u postgres -- psql -X -q -tA -v ON_ERROR_STOP=1 -h /tmp/pg <<'SQL'
CREATE EXTENSION iam_ext;
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'iam_ext';
SELECT 'referral code of ' || length(iam.generate_referral_code(10)) || ' characters';
INSERT INTO iam.users (id, email) VALUES ('0c0ffee0-0000-4000-8000-000000000001', 'ada@example.com');
SET request.jwt.claims = '{"sub": "0c0ffee0-0000-4000-8000-000000000001", "role": "authenticated"}';
CREATE TEMP TABLE smoke_key AS SELECT api_key FROM iam.create_api_key('smoke');
SELECT 'key verifies: ' || (SELECT count(*) FROM smoke_key, iam.verify_api_key(smoke_key.api_key));
-- The key with its last character changed (to one it does not have).
SELECT 'wrong secret verifies: ' || (SELECT count(*) FROM smoke_key, iam.verify_api_key(
    left(api_key, -1) || CASE WHEN right(api_key, 1) = 'x' THEN 'y' ELSE 'x' END));
DROP TABLE smoke_key;
DROP EXTENSION iam_ext;
SELECT 'schemas named iam left: ' || count(*) FROM pg_namespace WHERE nspname = 'iam';
SQL
)
in_chroot "$clean" runuser -u postgres -- /usr/lib/postgresql/"$PG_MAJOR"/bin/pg_ctl -D /tmp/pg/data -m fast -w stop >/dev/null
printf '%s\n' "$smoke"
expected="version $version
referral code of 10 characters
key verifies: 1
wrong secret verifies: 0
schemas named iam left: 0"
[ "$smoke" = "$expected" ] || die "the installed package did not answer as expected"
echo "PASS: $(basename "$package") installs into a clean $suite root, loads, verifies a key and drops"
