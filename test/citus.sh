#!/usr/bin/env bash
# `make test-citus [CITUS_TARBALL=<Citus source .tar.gz>]`: iam_ext on a Citus
# coordinator and two workers (test/citus_cluster.sh), in the PostgreSQL 17
# Debian root that `make test PG_MAJOR=17` uses. No Debian archive packages
# Citus: it is built from its source, once per root (about two minutes on
# two cores). Needs root, for the Debian root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Without CITUS_TARBALL: the Citus source shipped beside the repository, in
# ../shared/deps/, when it is there.
if [ -z "${CITUS_TARBALL:-}" ]; then
    for tarball in "$IAM_ROOT"/../shared/deps/citus-*.tar.gz; do
        [ -f "$tarball" ] && CITUS_TARBALL=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
    done
fi
[ -n "${CITUS_TARBALL:-}" ] ||
    die "make test-citus needs CITUS_TARBALL=<path of a Citus 14 source .tar.gz> (or one in ../shared/deps/)"
[ -f "$CITUS_TARBALL" ] || die "no such file: $CITUS_TARBALL"
export CITUS_TARBALL PG_MAJOR=17
exec "$IAM_ROOT/test/in_root.sh" test/citus_cluster.sh
