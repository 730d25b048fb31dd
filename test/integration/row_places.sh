#!/usr/bin/env bash
# Past what a check's set holds, a role's holders are kept by the places of
# their user_roles rows (docs/roles.md, "The bound"). A place holds while the
# statement that kept it runs: the table stays locked, so another session's
# VACUUM FULL, which would move the rows, waits for the transaction. A
# check run inside a subtransaction that aborts (a PL/pgSQL exception block)
# keeps nothing past it, and answers right after the rows moved.
set -euo pipefail

db=iam_row_places
source "$(dirname "$0")/../lib.sh"
work=$(mktemp -d)
trap 'exec 7>&- 2>/dev/null || true; rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
# 6,000 holders of kept_6000 among 12,000 users, their rows interleaved with
# as many of another role, which are then deleted: VACUUM FULL moves the
# holders' rows to other places. 24,000 rows whose owners range over the
# 12,000 users (the odd ones hold the role).
sql -d "$db" -q -o /dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION iam_ext;
CREATE FUNCTION public.v(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('d5000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.users (id) SELECT public.v(i) FROM generate_series(1, 12000) AS i;
INSERT INTO iam.roles (name) VALUES ('kept_6000'), ('filler');
INSERT INTO iam.user_roles (user_id, role_id)
SELECT public.v(2 * i - 1), r.id FROM generate_series(1, 6000) AS i, iam.roles r ORDER BY i, r.name DESC;
DELETE FROM iam.user_roles WHERE role_id = (SELECT id FROM iam.roles WHERE name = 'filler');
CREATE TABLE public.owned (id int, owner uuid);
INSERT INTO public.owned SELECT i, public.v(1 + (i * 7) % 12000) FROM generate_series(1, 24000) AS i;
-- A check inside an exception block whose subtransaction always aborts.
CREATE FUNCTION public.holds_undone(u uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    held boolean;
BEGIN
    BEGIN
        held := iam.has_role(u, 'kept_6000');
        RAISE EXCEPTION 'undone';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN held;
END $$;
SQL

# The long transaction: one connection, REPEATABLE READ, 64 kB (past the
# holder set: kept by place).
mkfifo "$work/long"
sql -d "$db" -tA <"$work/long" >"$work/long.out" 2>&1 &
long_pid=$!
exec 7>"$work/long"
printf "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSET LOCAL iam.check_memory = '64kB';\n" >&7
step=0
ask() {  # ask SQL: in $answer, the long transaction's answer to SQL
    step=$((step + 1))
    printf "SELECT 'answer %s ' || (%s);\n" "$step" "$1" >&7
    wait_for_line "$work/long.out" "^answer $step "
    answer=$(sed -n "s/^answer $step //p" "$work/long.out")
}

failures=0
check() {  # check WHAT EXPECTED ACTUAL
    if [ "$3" = "$2" ]; then echo "  ok: $1 ($3)"; else
        echo "  FAIL: $1: expected $2, got $3"; failures=$((failures + 1)); fi
}
count="SELECT count(*) FILTER (WHERE iam.has_role(owner, 'kept_6000')) FROM public.owned"
undone="SELECT count(*) FILTER (WHERE public.holds_undone(owner)) FROM public.owned"
places() { sql -d "$db" -tA -c "SELECT string_agg(ctid::text, ',' ORDER BY user_id) FROM iam.user_roles"; }
vacuum_full() { sql -d "$db" -tA -c "SET lock_timeout = '2s'" -c "VACUUM FULL iam.user_roles" 2>&1 || true; }

ask "$count"; check "the holders' rows, counted by place" 12000 "$answer"
before=$(places)
check "another session's VACUUM FULL waits for the transaction that keeps places" \
    "canceling statement due to lock timeout" "$(vacuum_full | grep -o 'canceling statement due to lock timeout' || echo 'it did not wait')"
check "... and the rows stayed where they were" "$before" "$(places)"
ask "$count"; check "the next statement counts them again" 12000 "$answer"
printf "COMMIT;\nBEGIN ISOLATION LEVEL REPEATABLE READ;\nSET LOCAL iam.check_memory = '64kB';\n" >&7
ask "$undone"; check "checks in subtransactions that abort" 12000 "$answer"
vacuum_full >/dev/null
[ "$(places)" != "$before" ] && moved=moved || moved="did not move"
check "another session's VACUUM FULL goes through and moves the rows" moved "$moved"
ask "$undone"; check "... and the checks in subtransactions still count every holder" 12000 "$answer"
ask "$count"; check "... as a plain check does" 12000 "$answer"
printf "COMMIT;\n" >&7
exec 7>&-
wait "$long_pid" || true
grep -B1 -A2 "ERROR" "$work/long.out" | sed 's/^/    /' || true

[ $failures -eq 0 ] || { echo "FAIL: $failures check(s)"; exit 1; }
echo "PASS: 8 checks: rows kept by place stay in place while a statement may read them"
