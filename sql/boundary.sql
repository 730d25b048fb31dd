-- The C++ / PostgreSQL error boundary (src/pg/boundary/guard.hpp), exercised through a
-- test-only library that uses the same guard. Each probe holds a C++ object
-- whose destructor must run; probe_live_trackers() counts those that did not.
\getenv probe IAM_BOUNDARY_PROBE
CREATE FUNCTION probe_throw(text, text, text, text) RETURNS void
    AS :'probe', 'probe_throw' LANGUAGE c STRICT;
CREATE FUNCTION probe_throw_std(text) RETURNS text
    AS :'probe', 'probe_throw_std' LANGUAGE c STRICT;
CREATE FUNCTION probe_pg_error_under_cpp() RETURNS integer
    AS :'probe', 'probe_pg_error_under_cpp' LANGUAGE c;
CREATE FUNCTION probe_pg_error_unguarded() RETURNS integer
    AS :'probe', 'probe_pg_error_unguarded' LANGUAGE c;
CREATE FUNCTION probe_throw_inside_pg_call() RETURNS integer
    AS :'probe', 'probe_throw_inside_pg_call' LANGUAGE c;
CREATE FUNCTION probe_leave_error_stack() RETURNS integer
    AS :'probe', 'probe_leave_error_stack' LANGUAGE c;
CREATE FUNCTION probe_live_trackers() RETURNS integer
    AS :'probe', 'probe_live_trackers' LANGUAGE c;
CREATE FUNCTION probe_reset_trackers() RETURNS void
    AS :'probe', 'probe_reset_trackers' LANGUAGE c;

-- A C++ iam::Error becomes an ERROR with its SQLSTATE, detail and hint.
SELECT probe_throw('22023', 'length must be between 4 and 32', 'length was 99', 'omit it for 8');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT probe_live_trackers();

-- An invalid SQLSTATE in C++ code is reported as an internal error.
SELECT probe_throw('oops!', 'bad code', '', '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Standard and foreign C++ exceptions.
SELECT probe_throw_std('bad_alloc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT probe_throw_std('runtime_error');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT probe_throw_std('int');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT probe_throw_std('none');
SELECT probe_live_trackers();

-- A PostgreSQL error raised under C++ code through pg_call() keeps its own
-- SQLSTATE and message, and the C++ object on the way out is destroyed.
SELECT probe_pg_error_under_cpp();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT probe_live_trackers();

-- A C++ exception thrown inside pg_call() leaves through the end of its
-- PG_TRY: a PostgreSQL error raised afterwards reaches its caller (here, the
-- client) instead of a dead frame, and the backend goes on.
SELECT probe_throw_inside_pg_call();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 'still connected' AS backend;
-- A body that leaves the error stack elsewhere is caught by the guard, which
-- restores it before it reports the bug.
SELECT probe_leave_error_stack();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 1 / 0 AS error_after_the_repair;
SELECT 'still connected' AS backend;

-- The control experiment: the same error without pg_call() skips the
-- destructor, and the count shows it. This is what the guard prevents.
SELECT probe_pg_error_unguarded();
SELECT probe_live_trackers() AS skipped_destructors;
SELECT probe_reset_trackers();

-- The backend stays usable: errors inside a transaction roll back to a
-- savepoint like any other error, and the session goes on.
BEGIN;
CREATE TEMP TABLE boundary_log (step int);
INSERT INTO boundary_log VALUES (1);
SAVEPOINT before_error;
INSERT INTO boundary_log VALUES (2);
SELECT probe_throw('P0002', 'not found', '', '');
ROLLBACK TO SAVEPOINT before_error;
INSERT INTO boundary_log VALUES (3);
COMMIT;
SELECT step FROM boundary_log ORDER BY step;
-- PL/pgSQL catches the error by its condition name, a thousand times over,
-- and no C++ object is left behind.
DO $$
BEGIN
    FOR i IN 1..1000 LOOP
        BEGIN
            PERFORM probe_throw('22023', 'again', '', '');
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;
        END;
    END LOOP;
END
$$;
SELECT probe_live_trackers();
DROP TABLE boundary_log;

DROP FUNCTION probe_throw(text, text, text, text), probe_throw_std(text),
    probe_pg_error_under_cpp(), probe_pg_error_unguarded(), probe_throw_inside_pg_call(),
    probe_leave_error_stack(), probe_live_trackers(), probe_reset_trackers();
