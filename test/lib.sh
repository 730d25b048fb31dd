# Shared by `make test` (test/run_tests.sh), `make run` (test/run_demo.sh)
# and the integration scripts: installing what is missing, building,
# starting or stopping a cluster, and running psql. Source it; it defines
# functions and a few variables, nothing else.

IAM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}

# Debian packages each command needs (README, "The two commands").
IAM_BUILD_PACKAGES="make g++ cmake pkg-config postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libsodium-dev"
IAM_TEST_PACKAGES="$IAM_BUILD_PACKAGES catch2 postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl git python3"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# psql for the test scripts: no psqlrc, quiet, stop at the first error;
# value prints bare results (one row a line, columns separated by |).
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
value() { sql -tA "$@"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the missing packages among "$@" with apt-get (as root), or says
# exactly what to install.
ensure_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get could not install: ${missing[*]}"
}

# pg_config of the PostgreSQL we build against and run.
pg_config_path() {
    if [ -n "${PG_CONFIG:-}" ]; then echo "$PG_CONFIG"
    elif [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" ]; then
        echo "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
    else echo pg_config; fi
}
PG_CONFIG=$(pg_config_path)
export PG_CONFIG

pg_bin() { echo "$("$PG_CONFIG" --bindir)/$1"; }

# Builds the extension and installs it into the server's directories.
build_and_install() {
    say "building iam_ext"
    make -C "$IAM_ROOT" -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null || die "build failed"
    if ! make -C "$IAM_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null; then
        die "make install failed: installing into $("$PG_CONFIG" --pkglibdir) needs root (sudo make install)"
    fi
}

# Runs a command as the cluster's owner: postgres when we are root (the
# server refuses to run as root), from / (postgres may not enter the current
# folder); ourselves otherwise.
as_cluster_owner() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# cluster_start DIR PORT [LISTEN [OPTIONS [SUPERUSER]]]: a new cluster in DIR
# (created), listening on a socket in DIR and, if LISTEN is given (e.g.
# localhost), on TCP; OPTIONS are more server options (-c name=value ...);
# SUPERUSER names the bootstrap superuser (default postgres; Supabase's is
# supabase_admin). Authentication is scram-sha-256 with the password in
# $PGPASSWORD.
cluster_start() {
    local dir=$1 port=$2 listen=${3:-} options=${4:-} superuser=${5:-postgres}
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_cluster_owner test -w "$dir" ||
        die "the cluster owner cannot write to $dir (a parent folder is not accessible to it)"
    local pwfile="$dir/.pwfile"
    printf '%s\n' "$PGPASSWORD" >"$pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
    chmod 600 "$pwfile"
    as_cluster_owner "$(pg_bin initdb)" -D "$dir/data" -U "$superuser" --auth=scram-sha-256 \
        --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        die "initdb failed, see $dir/initdb.log"
    rm -f "$pwfile"
    as_cluster_owner "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses='$listen' $options" >/dev/null ||
        die "PostgreSQL did not start, see $dir/postgres.log"
}

# supabase_layout DB: on a cluster started with supabase_admin as its
# bootstrap superuser (cluster_start ... supabase_admin), the layout of
# Supabase's image: database DB with the API roles and auth.users (owned by
# supabase_auth_admin, whose password is $PGPASSWORD), an authenticator, and
# postgres made a superuser, given the API roles and auth's tables, then
# demoted (NOSUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS); schema
# extensions, where Supabase installs extensions (WITH SCHEMA extensions).
supabase_layout() {
    local db=$1
    sql -U supabase_admin -d postgres -o /dev/null <<SQL
SET client_min_messages = warning;
CREATE ROLE postgres LOGIN SUPERUSER PASSWORD '$PGPASSWORD';
CREATE DATABASE $db;
SQL
    sql -U supabase_admin -d "$db" -o /dev/null <<SQL
SET client_min_messages = warning;
\ir $IAM_ROOT/test/fixtures/supabase_roles.sql
\ir $IAM_ROOT/test/fixtures/supabase_auth.sql
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
ALTER ROLE supabase_auth_admin PASSWORD '$PGPASSWORD';
GRANT anon, authenticated, service_role TO postgres;
GRANT ALL ON auth.users, auth.identities TO postgres;
GRANT ALL ON DATABASE $db TO postgres;
CREATE SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;
ALTER ROLE postgres NOSUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS;
SQL
}

cluster_stop() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_cluster_owner "$(pg_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null
}

# A free TCP port at or above $1, so that clusters never collide.
# Waits up to 30 s for a line matching PATTERN (grep) in FILE: the output of
# a psql session that a script feeds through a fifo. The caller checks what
# came.
wait_for_line() {  # wait_for_line FILE PATTERN
    for _ in $(seq 600); do grep -q "$2" "$1" && return 0; sleep 0.05; done
    return 0
}

free_port() {
    local port=$1
    while (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null || [ -e "/tmp/.s.PGSQL.$port" ]; do
        port=$((port + 1))
    done
    echo "$port"
}

# Debian roots, for the PostgreSQL versions bookworm does not ship
# (test/in_root.sh) and for installing the package into a clean system
# (test/integration/debian_package.sh). Each distribution's minimal root is
# made once with debootstrap and kept as a tarball in $IAM_ROOTS.
IAM_ROOTS=${IAM_ROOTS:-/var/cache/iam_ext/roots}

# debian_root SUITE DIR: a fresh minimal Debian SUITE root in DIR (created).
debian_root() {
    local suite=$1 dir=$2 tarball="$IAM_ROOTS/$1-base.tar.gz"
    if [ ! -f "$tarball" ]; then
        ensure_packages debootstrap
        mkdir -p "$IAM_ROOTS"
        local scratch
        scratch=$(mktemp -d "$IAM_ROOTS/$suite.XXXXXX")
        say "making a minimal Debian $suite root (debootstrap, once)"
        debootstrap --variant=minbase "$suite" "$scratch" http://deb.debian.org/debian \
            >"$IAM_ROOTS/$suite.log" 2>&1 || die "debootstrap failed, see $IAM_ROOTS/$suite.log"
        # An archive's Release file can be older than its Valid-Until (sid's is
        # refreshed often): take it as it is.
        echo 'Acquire::Check-Valid-Until "false";' >"$scratch/etc/apt/apt.conf.d/99iam-ext"
        # A Debian release takes its fixes from -updates and -security, as an
        # installed system does (a package built against the fixed server
        # depends on it); sid has neither.
        if [ "$suite" != sid ]; then
            printf '%s\n' "deb http://deb.debian.org/debian $suite main" \
                "deb http://deb.debian.org/debian $suite-updates main" \
                "deb http://deb.debian.org/debian-security $suite-security main" \
                >"$scratch/etc/apt/sources.list"
        fi
        # Installing a server package must not start a server in the root.
        printf '#!/bin/sh\nexit 101\n' >"$scratch/usr/sbin/policy-rc.d"
        chmod 755 "$scratch/usr/sbin/policy-rc.d"
        tar -C "$scratch" -czf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf --one-file-system "$scratch"
    fi
    mkdir -p "$dir"
    tar -C "$dir" -xzf "$tarball"
    chmod 755 "$dir"  # a root's / as in any system (mktemp makes it 0700)
}

# package_root SUITE NAME DIR PACKAGES...: in DIR (created), a Debian SUITE
# root with PACKAGES installed from its archive. The first call installs them
# into a fresh debian_root and keeps the result as $IAM_ROOTS/SUITE-NAME.tar.gz
# for the next (NAME says what the packages are for: change it when they
# change); later calls only unpack it.
package_root() {
    local suite=$1 name=$2 dir=$3; shift 3
    local tarball="$IAM_ROOTS/$suite-$name.tar.gz"
    if [ ! -f "$tarball" ]; then
        local scratch
        scratch=$(mktemp -d "$IAM_ROOTS/$suite-$name.XXXXXX")
        debian_root "$suite" "$scratch"
        say "installing $* into a Debian $suite root (once)"
        mount -t proc proc "$scratch/proc" && mount --bind /dev "$scratch/dev"
        local status=0
        in_chroot "$scratch" bash -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $*" \
            >"$IAM_ROOTS/$suite-$name.log" 2>&1 || status=$?
        umount "$scratch/dev" "$scratch/proc"
        if [ $status -ne 0 ]; then
            rm -rf --one-file-system "$scratch"
            die "apt-get install $* failed in a $suite root, see $IAM_ROOTS/$suite-$name.log"
        fi
        rm -rf "$scratch"/var/lib/apt/lists/* "$scratch"/var/cache/apt/archives/*.deb
        tar -C "$scratch" -czf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf --one-file-system "$scratch"
    fi
    mkdir -p "$dir"
    tar -C "$dir" -xzf "$tarball"
    chmod 755 "$dir"
}

# The suite of the Debian this runs on (sid says so in PRETTY_NAME only).
debian_suite() {
    (. /etc/os-release && case $PRETTY_NAME in */sid) echo sid ;; *) echo "$VERSION_CODENAME" ;; esac)
}

# mount_root DIR: /proc and /dev inside a root, for chroot; unmount_roots
# undoes every mount_root of this shell (call it on exit, before removing a
# root).
IAM_MOUNTS=()
mount_root() {
    mount -t proc proc "$1/proc" && IAM_MOUNTS+=("$1/proc")
    mount --bind /dev "$1/dev" && IAM_MOUNTS+=("$1/dev")
}
unmount_roots() {
    local i
    for ((i = ${#IAM_MOUNTS[@]} - 1; i >= 0; i--)); do umount "${IAM_MOUNTS[i]}" 2>/dev/null || umount -l "${IAM_MOUNTS[i]}"; done
    IAM_MOUNTS=()
}

# in_chroot DIR COMMAND...: COMMAND in the root DIR with a clean environment.
in_chroot() {
    local dir=$1; shift
    chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
