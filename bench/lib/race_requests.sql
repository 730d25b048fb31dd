-- bench.race_requests(names, setups, queries, rounds): bench.race, each case
-- in its own transaction: its setup (NULL: none) and its query are timed
-- together, then committed, so that what a setup made LOCAL (a request's
-- role, claims and key) ends with its case.
CREATE PROCEDURE bench.race_requests(names text[], setups text[], queries text[], rounds int)
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    took float8;
    seen bigint;
BEGIN
    rounds := least(rounds, coalesce(nullif(current_setting('bench.rounds', true), '')::int, rounds));
    FOR round IN 1..rounds LOOP
        FOR i IN 1..array_length(queries, 1) LOOP
            started := clock_timestamp();
            IF setups[i] IS NOT NULL THEN
                EXECUTE setups[i];
            END IF;
            EXECUTE queries[i] INTO seen;
            took := extract(epoch FROM clock_timestamp() - started) * 1000;
            COMMIT;
            INSERT INTO bench.rounds VALUES (names[i], round, took, seen);
            COMMIT;
        END LOOP;
    END LOOP;
END
$$;
