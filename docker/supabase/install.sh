#!/bin/sh
# The runtime stage of docker/supabase/Dockerfile, run as root in the
# supabase/postgres image on the files build.sh staged in STAGE:
#   - iam_ext.so into the directory the image's postgres wrapper exports as
#     NIX_PGLIBDIR (the server's $libdir; pg_config --pkglibdir is not it);
#   - the control and SQL files into pg_config --sharedir;
#   - /etc/postgresql-custom/conf.d/90-iam_ext.conf: iam_ext added to
#     shared_preload_libraries (its rate limits live in shared memory) and to
#     supautils.privileged_extensions (so that postgres, no superuser there,
#     may create it). Neither list can be appended to, so both restate the
#     image's own values, read from its configuration with postgres -C.
# It then checks that the image's configuration reads that file.
# Paths can be overridden for a test: IAM_POSTGRES_WRAPPER, IAM_PG_CONFIG,
# IAM_POSTGRES_CONFIG, IAM_CONF_D.
set -eu
stage=${1:?usage: install.sh STAGE}
wrapper=${IAM_POSTGRES_WRAPPER:-/usr/bin/postgres}
pg_config=${IAM_PG_CONFIG:-pg_config}
config=${IAM_POSTGRES_CONFIG:-/etc/postgresql/postgresql.conf}
confd=${IAM_CONF_D:-/etc/postgresql-custom/conf.d}
die() { echo "error: $*" >&2; exit 1; }

library=$(find "$stage" -name iam_ext.so | head -n 1)
[ -n "$library" ] || die "no iam_ext.so under $stage"
libdir=$(grep -E '^export NIX_PGLIBDIR' "$wrapper" | sed -E "s/.*'([^']*)'.*/\1/" | tail -n 1)
[ -n "$libdir" ] && [ -d "$libdir" ] ||
    die "$wrapper exports no NIX_PGLIBDIR directory: is this a supabase/postgres image?"
sharedir="$("$pg_config" --sharedir)/extension"
install -m 755 "$library" "$libdir/"
found=0
for file in $(find "$stage" -path '*/extension/iam_ext*' -type f); do
    install -m 644 "$file" "$sharedir/"
    found=1
done
[ $found -eq 1 ] || die "no control or SQL files of iam_ext under $stage"

# setting NAME: the value the image's server would run with.
setting() { su -s /bin/sh postgres -c "'$wrapper' --config-file='$config' -C '$1'"; }
# with_iam LIST: LIST with iam_ext added once.
with_iam() {
    case ", $1, " in
        *", iam_ext, "*) echo "$1" ;;
        ", , ") echo iam_ext ;;
        *) echo "$1, iam_ext" ;;
    esac
}
current_preload=$(setting shared_preload_libraries) ||
    die "could not read shared_preload_libraries from $config"
current_privileged=$(setting supautils.privileged_extensions) ||
    die "$config sets no supautils.privileged_extensions"
preload=$(with_iam "$current_preload")
privileged=$(with_iam "$current_privileged")
mkdir -p "$confd"
cat >"$confd/90-iam_ext.conf" <<CONF
# iam_ext, written when the image was built: preloaded (its API-key rate
# limits live in shared memory) and creatable by postgres through supautils.
# Both settings replace the image's lists, which they restate: edit them
# together with the image's own when either changes.
shared_preload_libraries = '$preload'
supautils.privileged_extensions = '$privileged'
CONF
[ "$(setting shared_preload_libraries)" = "$preload" ] ||
    die "the configuration in $config does not read $confd: add include_dir = '$confd' to it"
echo "iam_ext installed: $libdir/iam_ext.so, $sharedir/iam_ext.control; $confd/90-iam_ext.conf:"
grep -v '^#' "$confd/90-iam_ext.conf"
