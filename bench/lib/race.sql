-- bench.race(names, queries, rounds): runs the queries in rounds, one of each
-- per round, so that a noisy neighbour slows all of them alike, and keeps
-- each one's best time in bench.timings (name, best_ms, rows). Each query
-- returns one count, kept as `rows`.
CREATE TABLE bench.timings (name text PRIMARY KEY, best_ms float8, rows bigint);
CREATE FUNCTION bench.race(names text[], queries text[], rounds int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    elapsed float8;
    seen bigint;
BEGIN
    FOR round IN 1..rounds LOOP
        FOR i IN 1..array_length(queries, 1) LOOP
            started := clock_timestamp();
            EXECUTE queries[i] INTO seen;
            elapsed := extract(epoch FROM clock_timestamp() - started) * 1000;
            INSERT INTO bench.timings VALUES (names[i], elapsed, seen)
            ON CONFLICT (name) DO UPDATE SET best_ms = least(bench.timings.best_ms, excluded.best_ms);
        END LOOP;
    END LOOP;
END
$$;
