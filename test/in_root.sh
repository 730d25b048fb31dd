#!/usr/bin/env bash
# `make test PG_MAJOR=17` or `PG_MAJOR=18` on a Debian bookworm host, which
# ships PostgreSQL 15 only: the whole suite runs inside a Debian root of the
# distribution that ships that PostgreSQL (trixie: 17, sid: 18), with that
# distribution's own packages. The root is made with debootstrap on first
# use and kept in $IAM_ROOTS (default /var/cache/iam_ext/roots) for the next
# run; the checkout is copied into it afresh each time (its builds stay
# apart from the host's). Needs root, for debootstrap and chroot.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

case $PG_MAJOR in
    17) suite=trixie ;;
    18) suite=sid ;;
    *) die "no Debian root is known for PostgreSQL $PG_MAJOR (15 runs on this host)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "make test PG_MAJOR=$PG_MAJOR needs root (debootstrap and chroot)"
ensure_packages debootstrap

roots=${IAM_ROOTS:-/var/cache/iam_ext/roots}
root=$roots/$suite
if [ ! -x "$root/usr/bin/apt-get" ]; then
    say "making a Debian $suite root in $root (debootstrap)"
    mkdir -p "$roots"
    rm -rf "$root"
    debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian >"$roots/$suite.log" 2>&1 ||
        die "debootstrap failed, see $roots/$suite.log"
    # An archive's Release file can be older than its Valid-Until (sid's is
    # refreshed often): take it as it is.
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99iam-ext"
fi

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --bind /dev "$root/dev" && mounted+=("$root/dev")

# The checkout as it is, committed or not (but what git ignores), with its
# history: test/integration/run_anywhere.sh clones it.
rm -rf "$root/src/iam_ext"
mkdir -p "$root/src/iam_ext"
(cd "$IAM_ROOT" && { git ls-files -co --exclude-standard; find .git -type f; } | tar -cf - -T -) |
    tar -xf - -C "$root/src/iam_ext"

say "PostgreSQL $PG_MAJOR: the suite in the Debian $suite root"
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    CI="${CI:-}" IAM_WERROR="${IAM_WERROR:-}" ONLY="${ONLY:-}" PG_MAJOR="$PG_MAJOR" IAM_IN_ROOT=1 \
    bash -c 'cd /src/iam_ext && test/run_tests.sh'
