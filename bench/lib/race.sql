-- Shared by the psql benchmarks, included first: the session's settings, a
-- fresh schema bench, and the rounds, ratios and summary below.
\set ON_ERROR_STOP on
\set QUIET on
\pset footer off
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- bench.race(names, queries, rounds): runs the queries in rounds, one of each
-- per round, so that a noisy neighbour slows all of them alike, and keeps
-- every round's time in bench.rounds. Each query returns one count, kept as
-- `rows`. The setting bench.rounds, when set, caps the rounds (a smoke run).
CREATE TABLE bench.rounds (name text, round int, ms float8, rows bigint, PRIMARY KEY (name, round));
CREATE FUNCTION bench.race(names text[], queries text[], rounds int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    seen bigint;
BEGIN
    rounds := least(rounds, coalesce(nullif(current_setting('bench.rounds', true), '')::int, rounds));
    FOR round IN 1..rounds LOOP
        FOR i IN 1..array_length(queries, 1) LOOP
            started := clock_timestamp();
            EXECUTE queries[i] INTO seen;
            INSERT INTO bench.rounds
            VALUES (names[i], round, extract(epoch FROM clock_timestamp() - started) * 1000, seen);
        END LOOP;
    END LOOP;
END
$$;

-- bench.ratio(name, reference): name's time over reference's, round by round
-- (each pair ran side by side), as its median and range.
CREATE FUNCTION bench.ratio(name text, reference text, OUT median float8, OUT low float8, OUT high float8)
    LANGUAGE sql AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r), min(r), max(r)
    FROM (SELECT c.ms / f.ms AS r FROM bench.rounds c JOIN bench.rounds f USING (round)
          WHERE c.name = ratio.name AND f.name = ratio.reference) AS pairs
$$;
CREATE FUNCTION bench.shown(median float8, low float8, high float8) RETURNS text
    LANGUAGE sql AS $$
    SELECT CASE WHEN median IS NULL THEN '' WHEN low = high THEN round(median::numeric, 2)::text
                ELSE format('%s (%s to %s)', round(median::numeric, 2), round(low::numeric, 2), round(high::numeric, 2)) END
$$;

-- bench.report(floor, reference): one line per case: its best time, the spread
-- of its rounds, and its cost as a multiple of the floor's and of the
-- reference case's (both: this case's time over the other's, so more is slower).
CREATE FUNCTION bench.report(floor text, reference text)
    RETURNS TABLE (name text, best_ms numeric, spread_ms text, rounds bigint, per_call_us numeric,
                   x_floor text, x_reference text)
    LANGUAGE sql AS $$
    SELECT r.name, round(min(r.ms)::numeric, 1), format('%s to %s', round(min(r.ms)::numeric, 1), round(max(r.ms)::numeric, 1)),
           count(*), round((min(r.ms) * 1000 / nullif(max(r.rows), 0))::numeric, 3),
           (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, floor) x),
           (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, reference) x)
    FROM bench.rounds r GROUP BY r.name ORDER BY min(r.ms)
$$;

-- bench.target(what, name, reference, op, threshold): a line of make bench's
-- summary: the ratio of name over reference against a target ('<=' or '>=').
CREATE TABLE bench.summary (what text, median float8, low float8, high float8, op text, threshold float8);
CREATE FUNCTION bench.target(what text, name text, reference text, op text, threshold float8) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO bench.summary SELECT what, x.median, x.low, x.high, op, threshold FROM bench.ratio(name, reference) x
$$;
