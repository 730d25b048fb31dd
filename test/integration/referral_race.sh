#!/usr/bin/env bash
# Redemption holds under concurrency: 8 clients redeem codes for the same 20
# new users at once, each attempt its own transaction. Afterwards every user
# is referred exactly once, exactly 20 attempts succeeded, and every other
# attempt failed cleanly with 23505; nothing is half-written.
set -euo pipefail

db=iam_referral_race
clients=8
users=20
source "$(dirname "$0")/../lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
sql -d "$db" <<SQL
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id, full_name)
SELECT ('c0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'referrer ' || i FROM generate_series(1, 5) AS i;
INSERT INTO iam.users (id, full_name)
SELECT ('d0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'new user ' || i FROM generate_series(1, $users) AS i;
DO \$\$ BEGIN PERFORM iam.create_referral_code(id) FROM iam.users WHERE full_name LIKE 'referrer %'; END \$\$;
CREATE TABLE race_outcomes (client int, user_id uuid, outcome text);
CREATE FUNCTION try_redeem(client int, code text, referred uuid) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM iam.redeem_referral_code(code, referred);
    INSERT INTO race_outcomes VALUES (client, referred, 'ok');
EXCEPTION WHEN OTHERS THEN
    INSERT INTO race_outcomes VALUES (client, referred, SQLSTATE);
END
\$\$;
SQL
mapfile -t codes < <(value -d "$db" -c "SELECT lower(code) FROM iam.referral_codes")

# Every client tries every user once, in its own random order, with a random
# code typed in lower case: the same users are contended by all clients.
for client in $(seq "$clients"); do
    for user in $(seq "$users" | shuf); do
        code=${codes[$((RANDOM % ${#codes[@]}))]}
        printf "SELECT try_redeem(%d, '%s', 'd0000000-0000-4000-8000-%012d');\n" "$client" "$code" "$user"
    done >"$work/client-$client.sql"
done
echo "$clients clients x $users users, at once"
pids=()
for client in $(seq "$clients"); do
    sql -d "$db" -f "$work/client-$client.sql" >/dev/null &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

failures=0
check() {  # check WHAT EXPECTED QUERY
    local actual
    actual=$(value -d "$db" -c "$3")
    if [ "$actual" = "$2" ]; then echo "  ok: $1 ($actual)"; else
        echo "  FAIL: $1: expected $2, got $actual"; failures=$((failures + 1)); fi
}
check "attempts made" $((clients * users)) "SELECT count(*) FROM race_outcomes"
check "attempts that succeeded" "$users" "SELECT count(*) FROM race_outcomes WHERE outcome = 'ok'"
check "attempts that failed other than with 23505" 0 \
    "SELECT count(*) FROM race_outcomes WHERE outcome NOT IN ('ok', '23505')"
check "users referred exactly once" "$users" \
    "SELECT count(*) FROM (SELECT referred_user_id FROM iam.referrals GROUP BY 1 HAVING count(*) = 1) AS once"
check "referrals in all" "$users" "SELECT count(*) FROM iam.referrals"
check "referrals whose code belongs to their referrer" "$users" \
    "SELECT count(*) FROM iam.referrals AS r JOIN iam.referral_codes AS c
       ON c.id = r.referral_code_used_id AND c.user_id = r.referrer_user_id"
[ $failures -eq 0 ] || { echo "FAIL: $failures check(s) after concurrent redemption"; exit 1; }
echo "PASS: concurrent redemption: each user referred once, every loser a clean 23505"
