#!/usr/bin/env bash
# The shared table of rate limits when keys outnumber its slots. The server
# makes it as small as it goes (iam.rate_limit_slots = 8: one partition of
# 8 slots, all of which every key probes), so that which slot a key takes
# does not depend on its hash:
#   - a key at its limit keeps its count however many other keys come, even
#     keys whose windows started later (slots used to go to the key whose
#     window started first, and a key limited to 3 a day got its quota back);
#   - among keys under their limit, the one seen longest ago gives up its
#     slot, not one seen since;
#   - when every slot holds a key at its limit, another key is refused
#     (53400) rather than counted nowhere, and the keys in the table keep
#     their counts.
# server options: -c shared_preload_libraries=iam_ext -c iam.rate_limit_slots=8
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db=iam_rate_limit_table
source "$here/../lib.sh"
trap 'dropdb --if-exists "$db" 2>/dev/null || true' EXIT

echo "setup: Alice's keys, each with a rate limit"
dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
sql -d "$db" -o /dev/null -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION iam_ext' \
    -f "$here/../fixtures/people.sql" -f - <<'SQL'
CREATE SCHEMA keys;
CREATE TABLE keys.issued (name text PRIMARY KEY, id uuid, api_key text);
-- tight: 3 a day; n1..n16: 1,000 a second; p1..p7, q: 3 a day; x1..x6: 1 a day.
INSERT INTO keys.issued
SELECT n, k.id, k.api_key
FROM unnest(ARRAY['tight', 'q'] || ARRAY(SELECT 'n' || i FROM generate_series(1, 16) AS i)
            || ARRAY(SELECT 'p' || i FROM generate_series(1, 7) AS i)
            || ARRAY(SELECT 'x' || i FROM generate_series(1, 6) AS i)) AS n,
     LATERAL iam.create_api_key(n, pg_temp.person('Alice')) AS k;
SELECT iam.set_api_key_rate_limit(id, CASE WHEN name LIKE 'n%' THEN 1000 WHEN name LIKE 'x%' THEN 1 ELSE 3 END,
                                  CASE WHEN name LIKE 'n%' THEN interval '1 second' ELSE interval '1 day' END)
FROM keys.issued;
-- One request of the key: 'ok' or the error.
CREATE FUNCTION keys.try(key_name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM iam.consume_api_key((SELECT api_key FROM keys.issued WHERE name = key_name));
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SQL
checks=0 failures=0
# request NAME...: one request of each key in turn, each a statement of its
# own; prints their outcomes, space-separated.
request() {
    local name outcomes=()
    for name in "$@"; do outcomes+=("$(value -d "$db" -c "SELECT keys.try('$name')")"); done
    local IFS=' '
    echo "${outcomes[*]}"
}
check() {  # check WHAT GOT WANT
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then echo "  ok: $1: $2"
    else echo "  FAIL: $1: expected $3, got $2"; failures=$((failures + 1)); fi
}
over_3="53400: this API key is over its rate limit of 3 requests per day"
over_1="53400: this API key is over its rate limit of 1 requests per day"
full="53400: the rate limit table has no room for this API key: every slot it may take holds a key at its limit"

echo "a key at its limit keeps its slot"
check "tight, 3 a day: 4 requests" "$(request tight tight tight tight)" "ok ok ok $over_3"
check "7 more keys fill the table" "$(request n1 n2 n3 n4 n5 n6 n7)" "ok ok ok ok ok ok ok"
check "9 more, whose windows started later, each take a slot" \
    "$(request n8 n9 n10 n11 n12 n13 n14 n15 n16)" "ok ok ok ok ok ok ok ok ok"
check "tight is still at its limit" "$(request tight)" "$over_3"

echo "the key seen longest ago gives up its slot"
# p1..p7 take the slots of the n keys; then p1 is seen again, so p2 is the
# key seen longest ago among those under their limit.
check "p1..p7, then p1 again" "$(request p1 p2 p3 p4 p5 p6 p7 p1)" "ok ok ok ok ok ok ok ok"
check "q takes a slot" "$(request q)" "ok"
check "p1, seen since p2, kept its count of 2 of 3" "$(request p1 p1)" "ok $over_3"
check "p2 was the one forgotten: 3 more" "$(request p2 p2 p2 p2)" "ok ok ok $over_3"
check "tight is still at its limit" "$(request tight)" "$over_3"

echo "a table full of keys at their limits refuses another key"
# tight, p1 and p2 are at their limits; p4..p7 and q (p3 gave its slot to
# p2) are not, and go one by one to x1..x5, each then at its limit of 1.
check "x1..x5 take the slots under their limits" "$(request x1 x2 x3 x4 x5)" "ok ok ok ok ok"
check "x6 finds every slot at its limit" "$(request x6)" "$full"
check "... again" "$(request x6)" "$full"
check "the keys in the table keep their counts" "$(request tight p1 p2 x1 x5)" \
    "$over_3 $over_3 $over_3 $over_1 $over_1"
check "iam.rate_limit_slots" "$(value -d "$db" -c 'SHOW iam.rate_limit_slots')" 8

if [ "$failures" -eq 0 ]; then echo "PASS: $checks checks of a full rate limit table"
else echo "FAIL: $failures of $checks checks of a full rate limit table"; exit 1; fi
