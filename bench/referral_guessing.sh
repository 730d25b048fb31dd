#!/usr/bin/env bash
# Guessing referral codes: how many guesses an attacker gets answered, and
# how many of them reach the code table. Each transaction is one request as
# PostgREST makes it (the role, the JWT claims) redeeming a random code,
# with pgbench -M prepared and 4 clients, all for one signed-in attacker:
# once with iam.referral_failures_allowed = 0 (no limit, as 0.6.0 was), once
# with the default (10 failures an hour), and once anonymous (refused before
# any code is read). A guess that reached the table answers P0002. With
# iam_ext preloaded (as bench/run.sh starts the server) the limit is one per
# user for the server; without, one per connection (here 4 x 10).
# Run by bench/run.sh with PG* pointing at a scratch database.
set -euo pipefail
seconds=${IAM_BENCH_SECONDS:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
END $$;
SELECT FROM iam.apply_grants();
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO anon, authenticated;
-- Attackers ...01 to ...09; 1,000 users with a live code each.
INSERT INTO iam.users (id)
SELECT ('f2000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid FROM generate_series(1, 1100) AS i;
SELECT count(iam.create_referral_code(('f2000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid))
FROM generate_series(101, 1100) AS i \g /dev/null
CREATE SEQUENCE bench.reached;
GRANT USAGE ON SEQUENCE bench.reached TO anon, authenticated;
CREATE FUNCTION bench.guess(code text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iam.redeem_referral_code(code);
    RETURN 'redeemed';
EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE = 'P0002' THEN
        PERFORM nextval('bench.reached');
    END IF;
    RETURN SQLSTATE;
END
$$;
SQL

for who in user anon; do
    role=authenticated claims='{"sub":"f2000000-0000-4000-8000-000000000001"}'
    [ $who = anon ] && role=anon claims='{}'
    cat >"$work/$who.sql" <<SCRIPT
BEGIN;
SELECT set_config('role', '$role', true), set_config('request.jwt.claims', '$claims', true);
SELECT bench.guess(iam.generate_referral_code());
COMMIT;
SCRIPT
done

declare -A tps reached
run() {  # run NAME SCRIPT OPTIONS
    psql -X -q -o /dev/null -c "SELECT setval('bench.reached', 1, false)"
    # A new attacker window for each run: a fresh server-wide table is not
    # ours to reset, so each run guesses as a user of its own.
    sed -i "s/f2000000-0000-4000-8000-0000000000[0-9][0-9]/f2000000-0000-4000-8000-0000000000$3/" "$2"
    tps[$1]=$(PGOPTIONS="$4" pgbench -n -M prepared -c 4 -j 2 -T "$seconds" -f "$2" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    reached[$1]=$(psql -X -tA -c "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench.reached")
}
run unlimited "$work/user.sql" 02 "-c iam.referral_failures_allowed=0"
run limited "$work/user.sql" 03 ""
run anon "$work/anon.sql" 04 ""
psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA bench CASCADE" \
    -c "DELETE FROM iam.users WHERE id::text LIKE 'f2000000-%'"

echo "guessing referral codes, one guess per request, pgbench -M prepared, 4 clients, ${seconds}s each"
printf '  %-58s %12s %18s\n' attacker 'guesses/s' 'reached the table'
printf '  %-58s %12.0f %18s\n' "signed in, no limit (iam.referral_failures_allowed = 0)" "${tps[unlimited]}" "${reached[unlimited]}"
printf '  %-58s %12.0f %18s\n' "signed in, the default limit (10 failures an hour)" "${tps[limited]}" "${reached[limited]}"
printf '  %-58s %12.0f %18s\n' "anonymous" "${tps[anon]}" "${reached[anon]}"
awk -v u="${tps[unlimited]}" -v r="${reached[unlimited]}" -v l="${reached[limited]}" -v s="$seconds" 'BEGIN {
    printf "  guesses reaching the table per attacker-hour: %.0f without the limit, %d with it (%.0fx fewer)\n",
        r / s * 3600, l, (r / s * 3600) / (l > 0 ? l : 1) }'
# One run per case: the figure has no range. The target: the limit cuts what
# a guesser reaches by at least a thousand times.
awk -v u="${reached[unlimited]}" -v l="${reached[limited]}" -v s="$seconds" 'BEGIN {
    x = (u / s * 3600) / (l > 0 ? l : 1)
    printf "referral_guessing|guesses reaching the code table per hour, no limit over the default limit|%.0f|%.0f|%.0f|>=|1000\n", x, x, x }' \
    >>"${IAM_BENCH_SUMMARY_FILE:-/dev/null}"
