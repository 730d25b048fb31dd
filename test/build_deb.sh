#!/usr/bin/env bash
# `make deb`: the Debian package postgresql-<major>-iam-ext_<version>_<arch>.deb
# in dist/, built as Debian builds PostgreSQL extensions (debian/: debhelper
# with pg_buildext, for every PostgreSQL in debian/pgversions installed here,
# the pg_regress suite run against each installed build). The build runs in a
# copy of the checkout, so the tree stays as it is. With PG_MAJOR=17 or 18 on
# bookworm it is built in the Debian root that ships that PostgreSQL
# (test/in_root.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$PG_MAJOR" != 15 ] && [ -z "${IAM_IN_ROOT:-}" ]; then exec "$IAM_ROOT/test/in_root.sh" test/build_deb.sh; fi
ensure_packages $IAM_BUILD_PACKAGES build-essential debhelper dpkg-dev postgresql-server-dev-all

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control")
changelog_version=$(sed -n '1s/^iam-ext (\([^)]*\)).*/\1/p' "$IAM_ROOT/debian/changelog")
[ "$version" = "$changelog_version" ] ||
    die "debian/changelog is at $changelog_version, iam_ext.control at $version: add a debian/changelog entry"

scratch=$(mktemp -d /tmp/iam_ext_deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"  # the regress suite's server runs as postgres
source_dir="$scratch/iam-ext-$version"
mkdir "$source_dir"
(cd "$IAM_ROOT" && git ls-files -co --exclude-standard | grep -v '^dist/' | tar -cf - -T -) | tar -xf - -C "$source_dir"

say "building the Debian package of iam_ext $version"
# The package's own build finds its boundary probe, not the checkout's.
unset IAM_BOUNDARY_PROBE
(cd "$source_dir" && pg_buildext updatecontrol && dpkg-buildpackage -b -us -uc) >"$scratch/build.log" 2>&1 || {
    tail -n 60 "$scratch/build.log"; die "dpkg-buildpackage failed (its last lines above)"
}
grep -E '^ ?(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed)' "$scratch/build.log" || true
mkdir -p "$IAM_ROOT/dist"
for package in "$scratch"/postgresql-*-iam-ext_"$version"_*.deb; do
    cp "$package" "$IAM_ROOT/dist/"
    say "dist/$(basename "$package")"
done
