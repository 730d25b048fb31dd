-- Referral codes (run by bench/run.sh; prints ratios):
--   generation: 200,000 calls of iam.generate_referral_code() against
--     gen_random_uuid() (the floor of a CSPRNG call) and the usual SQL peers,
--     upper(substr(md5(random()::text), 1, 8)) and a PL/pgSQL nanoid loop;
--   creation: 100,000 codes for 100,000 users in one statement.
\ir lib/race.sql

CREATE FUNCTION bench.nanoid(size int DEFAULT 8) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    code text := '';
BEGIN
    FOR i IN 1..size LOOP
        code := code || substr(alphabet, 1 + floor(random() * 32)::int, 1);
    END LOOP;
    RETURN code;
END
$$;

SELECT bench.race(
    ARRAY['floor: gen_random_uuid()', 'peer: upper(substr(md5(random()::text), 1, 8))',
          'peer: PL/pgSQL nanoid loop', 'iam_ext generate_referral_code()'],
    ARRAY['SELECT count(gen_random_uuid()) FROM generate_series(1, 200000)',
          'SELECT count(upper(substr(md5(random()::text), 1, 8))) FROM generate_series(1, 200000)',
          'SELECT count(bench.nanoid(8)) FROM generate_series(1, 200000)',
          'SELECT count(iam.generate_referral_code()) FROM generate_series(1, 200000)'],
    5) \gset

INSERT INTO iam.users (id)
SELECT ('e1000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid FROM generate_series(1, 100000) AS i;
DO $$
DECLARE
    started timestamptz := clock_timestamp();
    made bigint;
BEGIN
    SELECT count((iam.create_referral_code(u.id)).id) INTO made
    FROM iam.users AS u WHERE u.id::text LIKE 'e1000000-%';
    INSERT INTO bench.rounds VALUES ('create_referral_code x 100,000 users', 1,
        extract(epoch FROM clock_timestamp() - started) * 1000, made);
END
$$;

\echo 'x floor, x iam_ext: time over theirs, median of the rounds (range)'
SELECT name, best_ms, spread_ms, rounds, per_call_us,
       CASE WHEN name NOT LIKE 'create%' THEN x_floor END AS x_floor,
       CASE WHEN name NOT LIKE 'create%' THEN x_reference END AS x_iam_ext
FROM bench.report('floor: gen_random_uuid()', 'iam_ext generate_referral_code()');
SELECT bench.target('referral code generation, iam_ext x floor (gen_random_uuid)', 'iam_ext generate_referral_code()', 'floor: gen_random_uuid()', '<=', 1.0),
       bench.target('referral code generation, iam_ext x the md5 peer', 'iam_ext generate_referral_code()', 'peer: upper(substr(md5(random()::text), 1, 8))', '<=', 1.0),
       bench.target('referral code generation, iam_ext x the nanoid peer', 'iam_ext generate_referral_code()', 'peer: PL/pgSQL nanoid loop', '<=', 1.0) \gset
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.users WHERE id::text LIKE 'e1000000-%';
