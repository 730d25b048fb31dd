#!/usr/bin/env bash
# Concurrency soak: pgbench runs a mixed workload against one database for
# IAM_SOAK_SECONDS (default 60) with 4 clients, every transaction one of:
# create an API key, verify a random key ever handed out (live, rotated or
# revoked) and authenticate a request with it, rotate or revoke a key, grant
# or revoke a role, redeem a referral code (live, mistyped, unknown, closed
# or one's own), and now and then rotate the pepper. Each workload is a
# PL/pgSQL wrapper (soak/setup.sql) that records what it did in the same
# transaction, accepts only the SQLSTATEs its operation may end with and
# raises anything else, so that pgbench aborts the client.
#
# It fails unless pgbench ends cleanly (no aborted client, no failed
# transaction: deadlocks and serialization failures are counted as such),
# every invariant of soak/invariants.sql holds (each user referred at most
# once, no orphan rows, every live key verifies, no rotated or revoked key
# does, one audit row per role change that changed something, ...), and the
# server log written meanwhile has no deadlock, crash, PANIC, TRAP, ERROR or
# FATAL line. Loopback only: PGHOST must be a socket directory or a
# loopback address. The server log is "$PGHOST/postgres.log" as test/lib.sh
# starts clusters (IAM_SOAK_SERVER_LOG to name another).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
scripts=$here/soak
db=iam_soak
seconds=${IAM_SOAK_SECONDS:-60}
clients=4
started=$SECONDS

case "${PGHOST:-}" in
    /*) [ -d "$PGHOST" ] || { echo "FAIL: PGHOST=$PGHOST is not a socket directory"; exit 1; } ;;
    localhost | 127.0.0.1 | ::1) ;;
    *) echo "FAIL: the soak runs on loopback only: set PGHOST to a socket directory or localhost"; exit 1 ;;
esac
server_log=${IAM_SOAK_SERVER_LOG:-$PGHOST/postgres.log}

source "$here/../lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

# The server log from byte $1 on: read directly, or through the server (a
# superuser may read any file the server can) when we may not read it.
log_size() {
    if [ -r "$server_log" ]; then stat -c %s "$server_log"
    else sql -tA -c "SELECT (pg_stat_file('$server_log', true)).size"; fi
}
log_since() {
    if [ -r "$server_log" ]; then tail -c +$(($1 + 1)) "$server_log"
    else sql -tA -c "SELECT pg_read_file('$server_log', $1, 1073741824, true)"; fi
}
log_start=$(log_size)
[ -n "$log_start" ] || { echo "FAIL: cannot read the server log $server_log (set IAM_SOAK_SERVER_LOG)"; exit 1; }

dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
sql -d "$db" -f "$scripts/setup.sql" >/dev/null

# Weights: reads dominate, as they do in production.
workloads=(create_key@3 verify_key@8 rotate_key@2 revoke_key@1 change_role@4 redeem_code@4 rotate_pepper@1)
arguments=()
for workload in "${workloads[@]}"; do arguments+=(-f "$scripts/${workload%@*}.sql@${workload#*@}"); done

echo "pgbench: $clients clients, ${seconds}s, -M prepared, scripts ${workloads[*]}"
# Commits do not wait for the WAL flush: the soak is about interleavings,
# and a flush per commit on a slow disk would leave few of them. A statement
# that hangs fails after 30 s; the whole run is killed after twice its time.
# iam.last_used_interval = 1: verification keeps writing last_used_at.
status=0
PGOPTIONS="-c synchronous_commit=off -c statement_timeout=30s -c iam.last_used_interval=1" \
    timeout --kill-after=10 $((2 * seconds + 30)) \
    pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -P 15 --failures-detailed \
    "${arguments[@]}" "$db" >"$work/pgbench.out" 2>"$work/pgbench.err" || status=$?

failures=0
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }

# pgbench's summary: per script, its transactions and failures.
awk '
    /^SQL script [0-9]+:/ { name = $4; sub(/.*\//, "", name); sub(/\.sql$/, "", name) }
    /^ - [0-9]+ transactions/ { tx = $2; match($0, /tps = [0-9.]+/); tps = substr($0, RSTART + 6, RLENGTH - 6) }
    /^ - number of failed transactions:/ && name != "" {
        printf "  %-14s %8d transactions %8.1f tps  %d failed\n", name, tx, tps, $6; name = "" }
    /^number of transactions actually processed:/ { total = $NF }
    /^number of failed transactions:/ { failed = $5 }
    /^tps = / { all = $3 }
    END { if (total != "") printf "  %-14s %8d transactions %8.1f tps  %d failed\n", "all", total, all, failed }
' "$work/pgbench.out"
grep -E '^number of (serialization|deadlock) failures' "$work/pgbench.out" | sed 's/^/  /' || true
grep -E '^progress:' "$work/pgbench.err" | sed 's/^/  /' || true
[ "$status" -eq 0 ] || fail "pgbench exited with status $status"
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.out")
[ "${failed:-missing}" = 0 ] || fail "pgbench failed transactions: ${failed:-no summary}"
if grep -E 'aborted|error|fatal' "$work/pgbench.err" >"$work/aborted"; then
    fail "pgbench reported errors (aborted clients):"
    head -20 "$work/aborted" | sed 's/^/    /'
fi

# After a crash the server first recovers: wait for it (up to 60 s).
for _ in $(seq 120); do pg_isready -q -d "$db" && break; sleep 0.5; done

echo "what the workloads did"
sql -d "$db" -f "$scripts/figures.sql" >"$work/figures" || fail "could not read what the workloads did"
sed 's/^/  /' "$work/figures"

echo "invariants"
checked=0
while IFS='|' read -r what expected actual; do
    checked=$((checked + 1))
    if [ "${actual%% *}" = "$expected" ]; then echo "  ok: $what: $actual"
    else fail "$what: expected $expected, got $actual"; fi
done < <(sql -d "$db" -f "$scripts/invariants.sql" || echo "invariants.sql failed|ran|failed")
[ "$checked" -ge 29 ] || fail "only $checked invariants were checked"

echo "server log during the soak"
log_since "$log_start" >"$work/server.log"
patterns=('deadlock detected' 'terminated by signal|was terminated|terminating any other active server' 'PANIC' 'TRAP:' 'ERROR:' 'FATAL:')
for pattern in "${patterns[@]}"; do
    count=$(grep -cE "$pattern" "$work/server.log" || true)
    if [ "$count" -eq 0 ]; then echo "  ok: no \"$pattern\" line"; else
        fail "$count \"$pattern\" line(s) in the server log:"
        grep -E "$pattern" "$work/server.log" | head -5 | sed 's/^/    /'
    fi
done

runtime=$((SECONDS - started))
if [ $failures -ne 0 ]; then echo "FAIL: $failures problem(s) in the concurrency soak (${runtime}s)"; exit 1; fi
total=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
tps=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$work/pgbench.out")
echo "PASS: concurrency soak, $total transactions in ${seconds}s ($tps tps, $clients clients), $checked invariants hold, server log clean (${runtime}s)"
