#!/bin/sh
# The builder stage of docker/supabase/Dockerfile (also run by
# test/integration/supabase_image.sh in a Debian bookworm root): iam_ext built
# with libsodium and the C++ runtime linked in (make STATIC=1) and installed
# under DEST (make install DESTDIR=DEST). Fails when the library needs any
# shared library beyond the C library family (libc, libm, the loader).
#   PG_CONFIG=<pg_config of the image's major> docker/supabase/build.sh DEST
set -eu
dest=${1:?usage: build.sh DEST}
PG_CONFIG=${PG_CONFIG:-pg_config}
cd "$(dirname "$0")/../.."
# Objects of another build (a host's) must not be reused.
make -s clean PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -j"$(nproc)" STATIC=1 PG_CONFIG="$PG_CONFIG"
make -s install STATIC=1 PG_CONFIG="$PG_CONFIG" DESTDIR="$dest"
needed=$(readelf -d iam_ext.so | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for library in $needed; do
    case $library in
        libc.so.* | libm.so.* | ld-linux*.so.*) ;;
        *) echo "error: iam_ext.so needs $library, which the supabase/postgres image does not have" >&2
           exit 1 ;;
    esac
done
echo "iam_ext.so needs only: $(echo $needed)"
