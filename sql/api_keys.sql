-- API keys (0.4.0): shape, verification and every "no row" case, creation
-- rules, rotation, revocation, expiry, suspended companies, permissions,
-- peppers, last_used_at. Keys are random: the output shows their properties.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT FROM iam.apply_grants();
RESET client_min_messages;

\i test/fixtures/people.sql

-- Creation returns the plaintext key once; the table keeps a keyed hash.
SELECT id AS alice_key_id, api_key AS alice_key, key_prefix AS alice_prefix
FROM iam.create_api_key('ci', 'a0000000-0000-4000-8000-0000000000a1',
                        permissions => '["courses:read", "reports:*"]') \gset
SELECT length(:'alice_key') AS length, :'alice_key' ~ '^iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$' AS shape,
       substr(:'alice_key', 5, 8) = :'alice_prefix' AS prefix_in_key;
SELECT name, user_id, company_id, permissions, hashed_key ~ '^blake2b256\$1\$[A-Za-z0-9_-]{43}$' AS hashed,
       position(:'alice_key' IN hashed_key) = 0 AS plaintext_not_stored, is_active
FROM iam.api_keys WHERE id = :'alice_key_id';

-- A valid key: one row.
SELECT key_id = :'alice_key_id' AS same_key, user_id, company_id, permissions, expires_at
FROM iam.verify_api_key(:'alice_key');

-- Everything else: no row, never an error.
SELECT what, (SELECT count(*) FROM iam.verify_api_key(k)) AS rows
FROM (VALUES
    ('NULL', NULL),
    ('empty', ''),
    ('garbage', 'not a key'),
    ('a megabyte', repeat('x', 1000000)),
    ('bad checksum', overlay(:'alice_key' PLACING (CASE WHEN right(:'alice_key', 1) = 'A' THEN 'B' ELSE 'A' END) FROM 51)),
    ('one character changed', overlay(:'alice_key' PLACING (CASE WHEN substr(:'alice_key', 20, 1) = 'A' THEN 'B' ELSE 'A' END) FROM 20)),
    ('truncated', left(:'alice_key', 50)),
    ('lower-cased', lower(:'alice_key')),
    ('unknown prefix', 'iam_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB000000')
) AS t (what, k);

-- A well-formed key with a valid checksum but the wrong secret for an
-- existing prefix: no row.
CREATE FUNCTION pg_temp.with_checksum(body text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    crc bigint := x'FFFFFFFF'::bigint;
    digits text := '';
BEGIN
    FOR i IN 1..length(body) LOOP
        crc := crc # ascii(substr(body, i, 1));
        FOR bit IN 1..8 LOOP
            crc := CASE WHEN crc & 1 = 1 THEN (crc >> 1) # x'EDB88320'::bigint ELSE crc >> 1 END;
        END LOOP;
    END LOOP;
    crc := crc # x'FFFFFFFF'::bigint;
    FOR i IN 1..6 LOOP
        digits := substr(alphabet, (crc % 62)::int + 1, 1) || digits;
        crc := crc / 62;
    END LOOP;
    RETURN body || digits;
END
$$;
SELECT pg_temp.with_checksum(left(:'alice_key', 45)) = :'alice_key' AS checksum_is_crc32_base62;
SELECT count(*) AS wrong_secret_rows
FROM iam.verify_api_key(pg_temp.with_checksum(left(:'alice_key', 13) || repeat('Z', 32)));

-- Many keys in one statement (a function in FROM, once per row).
SELECT count(c.id) AS created
FROM generate_series(1, 50) AS i, LATERAL iam.create_api_key('batch ' || i, 'a0000000-0000-4000-8000-0000000000a2') AS c;
CREATE TEMP TABLE batch AS
SELECT c.api_key FROM generate_series(1, 50) AS i,
LATERAL iam.create_api_key('batch2 ' || i, 'a0000000-0000-4000-8000-0000000000a2') AS c;
SELECT count(v.key_id) AS verified FROM batch AS b, LATERAL iam.verify_api_key(b.api_key) AS v;

-- Permissions: exact, resource:* and *; an invalid key has none.
SELECT p, iam.api_key_has_permission(:'alice_key', p) AS granted
FROM unnest(ARRAY['courses:read', 'courses:write', 'reports:monthly', 'reports', 'users:read']) AS p;
SELECT iam.api_key_has_permission('garbage', 'courses:read') AS garbage_key;

-- Creation rules.
SELECT iam.create_api_key('x');                                   -- no owner and no current user
SELECT iam.create_api_key(NULL, 'a0000000-0000-4000-8000-0000000000a1');
SELECT iam.create_api_key('', 'a0000000-0000-4000-8000-0000000000a1');
SELECT iam.create_api_key('x', 'a0000000-0000-4000-8000-0000000000a1', permissions => '{"courses": "read"}');
SELECT iam.create_api_key('x', 'a0000000-0000-4000-8000-0000000000a1', permissions => '["courses:read", ""]');
SELECT iam.create_api_key('x', 'a0000000-0000-4000-8000-0000000000a1', permissions => '["ok", 42]');
SELECT iam.create_api_key(repeat('n', 201), 'a0000000-0000-4000-8000-0000000000a1');  -- names: 200 characters at most
SELECT iam.create_api_key('x', 'a0000000-0000-4000-8000-0000000000a1',
                          permissions => (SELECT jsonb_agg('p' || i) FROM generate_series(1, 101) AS i));
SELECT iam.create_api_key('x', 'a0000000-0000-4000-8000-0000000000a1', expires_at => now() - interval '1 s');
SELECT iam.create_api_key('x', 'a0000000-0000-4000-8000-0000000000ff');  -- unknown user
SELECT iam.create_api_key('x', company_id => 'c0000000-0000-4000-8000-0000000000ff');
-- The current user is the default owner. Claims by hand, as the operator, not
-- as_user: Vera holds 100 keys (above), the most she may make herself.
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a2"}', false) IS NOT NULL AS as_vera;
SELECT id AS veras_key_id FROM iam.create_api_key('mine') \gset
SELECT user_id FROM iam.api_keys WHERE id = :'veras_key_id';
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS nobody;

-- Rotation: a new secret and prefix, same row; the old key stops at once.
SELECT id = :'alice_key_id' AS same_row, api_key AS rotated_key, key_prefix <> :'alice_prefix' AS new_prefix
FROM iam.rotate_api_key(:'alice_key_id') \gset
SELECT :'same_row' AS same_row, :'new_prefix' AS new_prefix,
       (SELECT count(*) FROM iam.verify_api_key(:'alice_key')) AS old_key_rows,
       (SELECT count(*) FROM iam.verify_api_key(:'rotated_key')) AS new_key_rows,
       (SELECT name || ' ' || permissions::text FROM iam.api_keys WHERE id = :'alice_key_id') AS kept;
SELECT iam.rotate_api_key('a0000000-0000-4000-8000-0000000000ff');
SELECT iam.rotate_api_key(NULL);

-- Expiry.
SELECT id AS expiring_id, api_key AS expiring_key
FROM iam.create_api_key('soon', 'a0000000-0000-4000-8000-0000000000a1', expires_at => now() + interval '1 hour') \gset
SELECT count(*) AS before_expiry FROM iam.verify_api_key(:'expiring_key');
UPDATE iam.api_keys SET expires_at = now() - interval '1 s' WHERE id = :'expiring_id';
SELECT count(*) AS after_expiry FROM iam.verify_api_key(:'expiring_key');

-- Company keys stop with their company.
SELECT api_key AS company_key FROM iam.create_api_key('acme ci', company_id => 'c0000000-0000-4000-8000-00000000000a') \gset
SELECT count(*) AS active_company FROM iam.verify_api_key(:'company_key');
UPDATE iam.companies SET current_iam_status = 'suspended_by_admin';
SELECT count(*) AS suspended_company FROM iam.verify_api_key(:'company_key');
UPDATE iam.companies SET current_iam_status = 'active', is_deleted = true;
SELECT count(*) AS deleted_company FROM iam.verify_api_key(:'company_key');
UPDATE iam.companies SET is_deleted = false;

-- Revocation.
SELECT iam.revoke_api_key(:'alice_key_id') AS revoked, iam.revoke_api_key(:'alice_key_id') AS again;
SELECT count(*) AS revoked_rows FROM iam.verify_api_key(:'rotated_key');
SELECT iam.revoke_api_key('a0000000-0000-4000-8000-0000000000ff');
SELECT iam.rotate_api_key(:'alice_key_id');

-- last_used_at: set by verification, at most once per iam.last_used_interval,
-- and not in a read-only transaction.
SELECT id AS used_id, api_key AS used_key FROM iam.create_api_key('used', 'a0000000-0000-4000-8000-0000000000a1') \gset
BEGIN READ ONLY;
SELECT count(*) AS verified_read_only FROM iam.verify_api_key(:'used_key');
COMMIT;
SELECT last_used_at IS NULL AS untouched_by_read_only FROM iam.api_keys WHERE id = :'used_id';
SELECT count(*) FROM iam.verify_api_key(:'used_key');
SELECT last_used_at AS first_use FROM iam.api_keys WHERE id = :'used_id' \gset
SELECT pg_sleep(0.01);
SELECT count(*) FROM iam.verify_api_key(:'used_key');
SELECT last_used_at = :'first_use' AS not_touched_again_within_interval FROM iam.api_keys WHERE id = :'used_id';
SET iam.last_used_interval = 0;
SELECT count(*) FROM iam.verify_api_key(:'used_key');
SELECT last_used_at > :'first_use' AS touched_with_interval_0 FROM iam.api_keys WHERE id = :'used_id';
RESET iam.last_used_interval;
-- In a query with a parallel part nothing is written while it runs: the
-- key verifies, and its next verification outside one records the use.
SELECT id AS parallel_id, api_key AS parallel_key FROM iam.create_api_key('parallel', 'a0000000-0000-4000-8000-0000000000a1') \gset
CREATE TABLE parallel_rows AS SELECT i FROM generate_series(1, 20000) AS i;
ANALYZE parallel_rows;
BEGIN;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT v.key_id IS NOT NULL AS verified, s.n
FROM iam.verify_api_key(:'parallel_key') AS v, (SELECT count(*) AS n FROM parallel_rows) AS s;
COMMIT;
SELECT last_used_at IS NULL AS untouched_in_parallel FROM iam.api_keys WHERE id = :'parallel_id';
SELECT count(*) FROM iam.verify_api_key(:'parallel_key');
SELECT last_used_at IS NOT NULL AS touched_after FROM iam.api_keys WHERE id = :'parallel_id';
DROP TABLE parallel_rows;

-- Peppers: no client role can read them; rotation keeps old keys verifying.
SELECT count(*) AS pepper_versions FROM iam.api_key_peppers;
SELECT iam.rotate_api_key_pepper() AS new_version;
SELECT count(*) AS old_key_still_verifies FROM iam.verify_api_key(:'used_key');
SELECT api_key AS new_pepper_key, id AS new_pepper_id FROM iam.create_api_key('v2', 'a0000000-0000-4000-8000-0000000000a1') \gset
SELECT hashed_key ~ '^blake2b256\$2\$' AS uses_version_2 FROM iam.api_keys WHERE id = :'new_pepper_id';
SELECT count(*) AS new_key_verifies FROM iam.verify_api_key(:'new_pepper_key');
CREATE ROLE iam_regress_reader;
GRANT USAGE ON SCHEMA iam TO iam_regress_reader;
SET ROLE iam_regress_reader;
SELECT count(*) FROM iam.api_key_peppers;
SELECT iam.rotate_api_key_pepper();
RESET ROLE;
REVOKE USAGE ON SCHEMA iam FROM iam_regress_reader;
DROP ROLE iam_regress_reader;

-- A request authenticated by its API key (PostgREST's db-pre-request): the
-- key's owner becomes the caller for the transaction, and only for it.
SELECT api_key AS request_key FROM iam.create_api_key('requests', 'a0000000-0000-4000-8000-0000000000a1',
                                                      permissions => '["courses:*"]') \gset
BEGIN;
SET LOCAL ROLE anon;
SELECT set_config('request.headers', json_build_object('x-api-key', :'request_key')::text, true) IS NOT NULL AS headers_set;
SELECT iam.authenticate_request();
SELECT current_user, iam.current_user_id(), iam.has_permission('courses:read') AS courses_read,
       iam.has_permission('users:read') AS users_read;
SELECT count(*) AS own_keys_visible FROM iam.api_keys;
COMMIT;
SELECT current_user, iam.current_user_id() AS after_commit, iam.has_permission('courses:read') AS after_commit;
-- The scheme of the authorization header is case-insensitive; Bearer is not ours.
BEGIN;
SELECT set_config('request.headers', json_build_object('authorization', 'apikey ' || :'request_key')::text, true) IS NOT NULL AS headers_set;
SELECT iam.authenticate_request();
SELECT iam.current_user_id() AS from_authorization;
ROLLBACK;
SELECT iam.current_user_id() AS after_rollback;
BEGIN;
SELECT set_config('request.headers', '{"authorization": "Bearer eyJhbGciOi"}', true) IS NOT NULL AS headers_set;
SELECT iam.authenticate_request();
SELECT iam.current_user_id() AS bearer_leaves_it_to_postgrest;
ROLLBACK;
-- No headers, malformed headers: nothing changes. A bad key: 28000, no reason given.
SELECT iam.authenticate_request();
BEGIN;
SELECT set_config('request.headers', '{"x-api-key": ', true) IS NOT NULL AS headers_set;
SELECT iam.authenticate_request();
ROLLBACK;
BEGIN;
SELECT set_config('request.headers', json_build_object('x-api-key', :'alice_key')::text, true) IS NOT NULL AS revoked_key;
SELECT iam.authenticate_request();
ROLLBACK;
-- The context cannot be forged through settings.
SELECT set_config('iam.api_key_context', 'x', false);
SELECT iam.has_permission('courses:read') AS without_a_request;
-- verify_api_key keeps one index scan open for a whole statement. A cursor
-- read across savepoints, a statement that fails half-way and one that is
-- rolled back to a savepoint leave nothing behind (no leak warnings) and
-- change no answer.
CREATE TEMP TABLE some_keys AS
SELECT n, k FROM (VALUES (1, :'request_key'), (2, :'company_key'), (3, 'iam_not_a_key'), (4, :'new_pepper_key')) AS t (n, k);
BEGIN;
DECLARE verified CURSOR FOR
SELECT s.n, v.key_id IS NOT NULL AS verifies FROM some_keys AS s LEFT JOIN LATERAL iam.verify_api_key(s.k) AS v ON true;
SAVEPOINT first_row;
FETCH 1 FROM verified;
RELEASE SAVEPOINT first_row;
SAVEPOINT second_row;
FETCH 1 FROM verified;
ROLLBACK TO SAVEPOINT second_row;
SELECT count(v.key_id) AS verified_elsewhere FROM some_keys AS s, LATERAL iam.verify_api_key(s.k) AS v;
FETCH ALL FROM verified;
COMMIT;
SELECT count(v.key_id) FROM some_keys AS s, LATERAL iam.verify_api_key(s.k) AS v WHERE 1 / (4 - s.n) > 0;
SELECT count(v.key_id) AS verified_after_a_failure FROM some_keys AS s, LATERAL iam.verify_api_key(s.k) AS v;

-- The C code reads the peppers by column position, checked against the
-- catalog like its other tables: a pepper column that moved (here renamed,
-- then rolled back) is refused instead of read wrong.
BEGIN;
ALTER TABLE iam.api_key_peppers RENAME COLUMN pepper TO secret;
SELECT count(*) FROM iam.verify_api_key(:'request_key');
ROLLBACK;
SELECT count(*) AS verifies_again FROM iam.verify_api_key(:'request_key');

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
