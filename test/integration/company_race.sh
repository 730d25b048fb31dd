#!/usr/bin/env bash
# Tenancy holds under concurrency. 8 clients accept the same 20 invitations
# at once, each as the invitee and in its own transaction: every invitee
# joins exactly once, exactly 20 acceptances succeed, every other one is
# refused with P0002. Then, in 10 companies with two admins each, the two
# admins remove each other at the same moment: in every company exactly one
# removal takes effect; the other is refused (23514, or 42501 once its
# caller is no longer an admin) or finds nothing left to change; one admin is
# left. Last, under REPEATABLE READ and SERIALIZABLE, two admins each demote
# themselves in a transaction whose snapshot was taken before the other's
# demotion committed: the second is refused with 40001 (its snapshot is
# older than the lock it waited for), and the company keeps an admin. And a
# template and a company's role of one name, created at the same moment:
# only the first commits. And a company role assigned while the membership
# ends: whichever comes first, no role counts without the membership, and
# none comes back with it.
set -euo pipefail

db=iam_company_race
clients=8
invitees=20
companies=10
source "$(dirname "$0")/../lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
sql -d "$db" -o /dev/null <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
END \$\$;
CREATE EXTENSION iam_ext;
SELECT iam.apply_grants();
INSERT INTO iam.users (id, full_name)
SELECT ('d0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'invitee ' || i FROM generate_series(1, $invitees) AS i;
INSERT INTO iam.companies (id, name) VALUES ('c0000000-0000-4000-8000-000000000000', 'Acme');
INSERT INTO iam.companies (id, name)
SELECT ('c0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'company ' || i FROM generate_series(1, $companies) AS i;
-- Two admins in each numbered company: e...<i>01 and e...<i>02.
INSERT INTO iam.users (id, full_name)
SELECT ('e0000000-0000-4000-8000-' || lpad(i::text, 10, '0') || lpad(a::text, 2, '0'))::uuid, 'admin ' || a || ' of ' || i
FROM generate_series(1, $companies) AS i, generate_series(1, 2) AS a;
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT u.id, ('c0000000-0000-4000-8000-' || lpad(split_part(u.full_name, ' of ', 2), 12, '0'))::uuid, 'admin'
FROM iam.users AS u WHERE u.full_name LIKE 'admin %';
-- Each invitee's invitation to Acme, made by the service role.
CREATE TABLE invitations AS
SELECT u.id AS user_id, i.token
FROM iam.users AS u, LATERAL iam.invite_to_company('c0000000-0000-4000-8000-000000000000', user_id => u.id) AS i
WHERE u.full_name LIKE 'invitee %';
CREATE TABLE race_outcomes (race text, client int, subject uuid, outcome text);
GRANT ALL ON race_outcomes TO authenticated;
-- One call as user \`who\`, the way PostgREST makes it, recording its outcome:
-- the call's result as text, or its SQLSTATE.
CREATE FUNCTION try_as(race text, client int, who uuid, subject uuid, call text) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
    result text;
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object('sub', who, 'role', 'authenticated')::text, true);
    EXECUTE call INTO result;
    INSERT INTO race_outcomes VALUES (race, client, subject, coalesce(result, 'ok'));
EXCEPTION WHEN OTHERS THEN
    INSERT INTO race_outcomes VALUES (race, client, subject, SQLSTATE);
END
\$\$;
GRANT EXECUTE ON FUNCTION try_as(text, int, uuid, uuid, text) TO authenticated;
SQL

echo "$clients clients accept the same $invitees invitations, at once"
value -d "$db" -c "SELECT user_id || ' ' || token FROM invitations" >"$work/invitations"
for client in $(seq "$clients"); do
    { echo 'SET ROLE authenticated;'
      shuf "$work/invitations" | while read -r user token; do
          printf "SELECT try_as('accept', %d, '%s', '%s', \$\$SELECT iam.accept_company_invitation('%s')\$\$);\n" \
              "$client" "$user" "$user" "$token"
      done; } >"$work/client-$client.sql"
done
pids=()
for client in $(seq "$clients"); do
    sql -d "$db" -f "$work/client-$client.sql" >/dev/null &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

echo "in each of $companies companies, its two admins remove each other at the same moment"
pids=()
for company in $(seq "$companies"); do
    for admin in 1 2; do
        me=$(printf 'e0000000-0000-4000-8000-%010d%02d' "$company" "$admin")
        other=$(printf 'e0000000-0000-4000-8000-%010d%02d' "$company" $((3 - admin)))
        # The pause keeps the first transaction open while the second arrives.
        sql -d "$db" -o /dev/null >/dev/null <<SQL &
SET ROLE authenticated;
BEGIN;
SELECT try_as('remove', $admin, '$me', '$other',
              format('SELECT iam.remove_company_member(%L, %L)', 'c0000000-0000-4000-8000-$(printf '%012d' "$company")', '$other'));
SELECT pg_sleep(0.3);
COMMIT;
SQL
        pids+=($!)
    done
done
for pid in "${pids[@]}"; do wait "$pid"; done

echo "two admins demote themselves, each in a snapshot older than the other's change"
isolation=(x 'REPEATABLE READ' 'SERIALIZABLE')
for company in 11 12; do
    level=${isolation[$((company - 10))]}
    company_id=c0000000-0000-4000-8000-0000000000$company
    first=e0000000-0000-4000-8000-00000000${company}01
    second=e0000000-0000-4000-8000-00000000${company}02
    sql -d "$db" -o /dev/null <<SQL
INSERT INTO iam.companies (id, name) VALUES ('$company_id', 'company $company');
INSERT INTO iam.users (id, full_name) VALUES ('$first', 'first admin of $company'), ('$second', 'second admin of $company');
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
VALUES ('$first', '$company_id', 'admin'), ('$second', '$company_id', 'admin');
SQL
    # The second session takes its snapshot and waits, its transaction open.
    mkfifo "$work/second-$company"
    sql -d "$db" <"$work/second-$company" >"$work/second-$company.out" 2>&1 &
    second_pid=$!
    exec 7>"$work/second-$company"
    printf "SET ROLE authenticated;\nBEGIN ISOLATION LEVEL %s;\nSELECT 'snapshot ' || count(*) FROM iam.roles;\n" "$level" >&7
    wait_for_line "$work/second-$company.out" '^ snapshot'
    grep -q '^ snapshot' "$work/second-$company.out" || die "the second session of company $company did not start"
    # The first demotes itself and commits.
    sql -d "$db" -o /dev/null <<SQL
SET ROLE authenticated;
BEGIN ISOLATION LEVEL $level;
SELECT try_as('$level', 1, '$first', '$first', format('SELECT iam.set_company_role(%L, %L, %L)', '$company_id', '$first', 'member'));
COMMIT;
SQL
    # The second, in its older snapshot, then demotes itself.
    printf "SELECT try_as('%s', 2, '%s', '%s', format('SELECT iam.set_company_role(%%L, %%L, %%L)', '%s', '%s', 'member'));\nCOMMIT;\n" \
        "$level" "$second" "$second" "$company_id" "$second" >&7
    exec 7>&-
    wait "$second_pid"
done

echo "a template and a company's role of one name, created at once"
# The second session takes its REPEATABLE READ snapshot, then the first
# creates the template 'race_N' and holds its transaction open while the
# second creates Acme's role 'race_N': the second waits for the first, and
# is refused (23505) by what the first committed, though its snapshot is
# older. A template and a company's role never share a name.
for n in 1 2 3; do
    mkfifo "$work/name-$n"
    sql -d "$db" <"$work/name-$n" >"$work/name-$n.out" 2>&1 &
    name_pid=$!
    exec 7>"$work/name-$n"
    printf "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 'snapshot ' || count(*) FROM iam.roles;\n" >&7
    wait_for_line "$work/name-$n.out" '^ snapshot'
    sql -d "$db" -o /dev/null -c "BEGIN" -c "INSERT INTO iam.company_roles (name) VALUES ('race_$n')" \
        -c "SELECT pg_sleep(0.5)" -c "COMMIT" &
    first_pid=$!
    sleep 0.2
    printf "INSERT INTO iam.company_roles (company_id, name) VALUES ('c0000000-0000-4000-8000-000000000000', 'race_%s');\nCOMMIT;\n" \
        "$n" >&7
    exec 7>&-
    wait "$first_pid"
    wait "$name_pid" || true  # refused, as it should be: checked below
done
name_refusals=$(cat "$work"/name-*.out | grep -c 'already exists as a template' || true)

echo "a company role assigned while the membership ends, in either order"
# One session assigns Acme's member fN the template race_mentor (which
# grants race:read), another ends fN's membership, the first holding its
# transaction open while the second runs and commits: neither waits, and a
# role the end could not see may be left behind. It grants nothing while
# the membership is inactive, and the readmission drops it.
sql -d "$db" -o /dev/null <<SQL
-- iam.can as user who, in a statement of its own.
CREATE FUNCTION can_as(who uuid, permission text, company uuid) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object('sub', who, 'role', 'authenticated')::text, true);
    RETURN iam.can(permission, company);
END
\$\$;
INSERT INTO iam.permissions (name) VALUES ('race:read');
INSERT INTO iam.company_roles (id, name) VALUES ('d0000000-0000-4000-8000-0000000000f0', 'race_mentor');
INSERT INTO iam.company_role_permissions (company_role_id, permission) VALUES ('d0000000-0000-4000-8000-0000000000f0', 'race:read');
INSERT INTO iam.users (id) SELECT ('f0000000-0000-4000-8000-00000000000' || n)::uuid FROM generate_series(1, 4) AS n;
INSERT INTO iam.company_users (user_id, company_id)
SELECT ('f0000000-0000-4000-8000-00000000000' || n)::uuid, 'c0000000-0000-4000-8000-000000000000' FROM generate_series(1, 4) AS n;
SQL
acme=c0000000-0000-4000-8000-000000000000
n=0
for level in 'READ COMMITTED' 'REPEATABLE READ'; do
    for order in assign end; do
        n=$((n + 1)); member=f0000000-0000-4000-8000-00000000000$n
        assign="SELECT try_as('$level, $order first', 1, '$member', '$member', format('SELECT iam.assign_company_role(%L, %L, %L)', '$acme', '$member', 'race_mentor'));"
        end="SELECT try_as('$level, $order first', 2, '$member', '$member', \$\$UPDATE iam.company_users SET is_active_in_company = false WHERE user_id = '$member' AND company_id = '$acme' RETURNING 'ended'\$\$);"
        [ "$order" = assign ] && { holder=$assign; waiter=$end; } || { holder=$end; waiter=$assign; }
        # (an end first leaves the assignment's snapshot, which cannot see
        # it uncommitted, an active membership)
        mkfifo "$work/hold-$n"
        sql -d "$db" <"$work/hold-$n" >"$work/hold-$n.out" 2>&1 &
        hold_pid=$!
        exec 7>"$work/hold-$n"
        printf "BEGIN ISOLATION LEVEL %s;\n%s\nSELECT 'held';\n" "$level" "$holder" >&7
        wait_for_line "$work/hold-$n.out" 'held'
        grep -q 'held' "$work/hold-$n.out" || die "the first session of race $n did not start"
        # The second runs and commits while the first is open: no lock waits.
        sql -d "$db" -o /dev/null -c "BEGIN ISOLATION LEVEL $level" -c "$waiter" -c "COMMIT"
        printf "COMMIT;\n" >&7
        exec 7>&-
        wait "$hold_pid"
    done
done

failures=0
check() {  # check WHAT EXPECTED QUERY
    local actual
    actual=$(value -d "$db" -c "$3")
    if [ "$actual" = "$2" ]; then echo "  ok: $1 ($actual)"; else
        echo "  FAIL: $1: expected $2, got $actual"; failures=$((failures + 1)); fi
}
check "acceptances made" $((clients * invitees)) "SELECT count(*) FROM race_outcomes WHERE race = 'accept'"
check "acceptances that succeeded" "$invitees" \
    "SELECT count(*) FROM race_outcomes WHERE race = 'accept' AND outcome = 'c0000000-0000-4000-8000-000000000000'"
check "every other acceptance refused with P0002" $(((clients - 1) * invitees)) \
    "SELECT count(*) FROM race_outcomes WHERE race = 'accept' AND outcome = 'P0002'"
check "invitees who succeeded exactly once" "$invitees" \
    "SELECT count(*) FROM (SELECT subject FROM race_outcomes WHERE race = 'accept' AND outcome LIKE 'c0000000-%'
                           GROUP BY subject HAVING count(*) = 1) AS once"
check "members of Acme" "$invitees" \
    "SELECT count(*) FROM iam.company_users WHERE company_id = 'c0000000-0000-4000-8000-000000000000' AND is_active_in_company"
check "invitations spent" "$invitees" "SELECT count(*) FROM iam.company_invitations WHERE accepted_at IS NOT NULL"
check "acceptances in the audit log" "$invitees" "SELECT count(*) FROM iam.audit_log WHERE action = 'invitation_accepted'"
check "removals that took effect, one per company" "$companies" \
    "SELECT count(*) FROM race_outcomes WHERE race = 'remove' AND outcome = 'true'"
check "the other removal of each company refused (23514, 42501) or left nothing to change" "$companies" \
    "SELECT count(*) FROM race_outcomes WHERE race = 'remove' AND outcome IN ('23514', '42501', 'false')"
check "companies with exactly one active admin" "$companies" \
    "SELECT count(*) FROM (SELECT company_id FROM iam.company_users
                           WHERE is_active_in_company AND company_id <= 'c0000000-0000-4000-8000-000000000010' AND role_in_company = 'admin' GROUP BY company_id
                           HAVING count(*) = 1) AS one"
for level in 'REPEATABLE READ' SERIALIZABLE; do
    check "$level: the first admin's demotion took effect" "true" \
        "SELECT outcome FROM race_outcomes WHERE race = '$level' AND client = 1"
    check "$level: the second, in a snapshot older than the first's commit, refused with 40001" "40001" \
        "SELECT outcome FROM race_outcomes WHERE race = '$level' AND client = 2"
done
check "names created both as a template and as a company's role" "0" \
    "SELECT count(*) FROM (SELECT name FROM iam.company_roles WHERE name LIKE 'race_%'
                           GROUP BY name HAVING count(*) > 1) AS both_kinds"
check "company roles refused for a template's name created at the same moment" "3" "SELECT $name_refusals"
check "companies 11 and 12 each keep one admin" "2" \
    "SELECT count(*) FROM (SELECT company_id FROM iam.company_users
                           WHERE company_id IN ('c0000000-0000-4000-8000-000000000011', 'c0000000-0000-4000-8000-000000000012')
                             AND is_active_in_company AND role_in_company = 'admin'
                           GROUP BY company_id HAVING count(*) = 1) AS one"
check "the assignments and the ends, each committed" "8" \
    "SELECT count(*) FROM race_outcomes WHERE race LIKE '%first' AND outcome IN ('true', 'ended')"
check "roles left behind, each with a membership that ended" "4" \
    "SELECT count(*) FROM iam.company_member_roles r JOIN iam.company_users m USING (user_id, company_id)
     WHERE r.user_id::text LIKE 'f0000000-%' AND NOT m.is_active_in_company"
check "a role left with an ended membership grants nothing" "0" \
    "SELECT count(*) FILTER (WHERE can_as(id, 'race:read', 'c0000000-0000-4000-8000-000000000000'))
     FROM iam.users WHERE id::text LIKE 'f0000000-%'"
sql -d "$db" -o /dev/null -c "UPDATE iam.company_users SET is_active_in_company = true WHERE user_id::text LIKE 'f0000000-%'"
check "readmitted, nobody holds a company role from before" "0" \
    "SELECT count(*) FROM iam.company_member_roles WHERE user_id::text LIKE 'f0000000-%'"
[ "$failures" -eq 0 ] || { echo "FAIL: $failures check(s)"; exit 1; }
echo "PASS: $invitees invitations accepted once each by $clients racing clients; $companies companies each kept one admin"
