#!/usr/bin/env bash
# `make test PG_MAJOR=17` or `PG_MAJOR=18` on a Debian bookworm host, which
# ships PostgreSQL 15 only: the whole suite runs inside a Debian root of the
# distribution that ships that PostgreSQL (trixie: 17, sid: 18), with that
# distribution's own packages. `make deb PG_MAJOR=...` builds the package
# there the same way. The root is made on first use and kept in $IAM_ROOTS
# (default /var/cache/iam_ext/roots) for the next run; the checkout is copied
# into it afresh each time (its builds stay apart from the host's), and the
# packages a command leaves in dist/ are copied back. Needs root, for
# debootstrap and chroot.
#   test/in_root.sh [SCRIPT]   SCRIPT of the checkout (default test/run_tests.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
script=${1:-test/run_tests.sh}

case $PG_MAJOR in
    17) suite=trixie ;;
    18) suite=sid ;;
    *) die "no Debian root is known for PostgreSQL $PG_MAJOR (15 runs on this host)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "PG_MAJOR=$PG_MAJOR needs root (debootstrap and chroot)"

root=$IAM_ROOTS/$suite
if [ ! -x "$root/usr/bin/apt-get" ]; then
    rm -rf --one-file-system "$root"
    debian_root "$suite" "$root"
fi
trap unmount_roots EXIT
mount_root "$root"

# The checkout as it is, committed or not (but what git ignores), with its
# history: test/integration/run_anywhere.sh clones it.
rm -rf "$root/src/iam_ext"
mkdir -p "$root/src/iam_ext"
(cd "$IAM_ROOT" && { git ls-files -co --exclude-standard; find .git -type f; } | tar -cf - -T -) |
    tar -xf - -C "$root/src/iam_ext"

# The Citus source a Citus test builds from, beside the checkout.
if [ -n "${CITUS_TARBALL:-}" ]; then cp "$CITUS_TARBALL" "$root/src/citus.tar.gz"; fi

say "PostgreSQL $PG_MAJOR: $script in the Debian $suite root"
status=0
in_chroot "$root" CI="${CI:-}" IAM_WERROR="${IAM_WERROR:-}" ONLY="${ONLY:-}" PG_MAJOR="$PG_MAJOR" IAM_IN_ROOT=1 \
    bash -c "cd /src/iam_ext && $script" || status=$?
if [ -d "$root/src/iam_ext/dist" ]; then
    mkdir -p "$IAM_ROOT/dist" && cp "$root/src/iam_ext/dist"/*.deb "$IAM_ROOT/dist/"
fi
exit $status
