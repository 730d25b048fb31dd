-- updated_at is stamped by iam.set_updated_at() (C++) on every real change,
-- with the transaction's timestamp, and cannot be set by hand.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
INSERT INTO iam.users (id) VALUES ('11111111-1111-4111-8111-111111111111');
INSERT INTO iam.companies (id, name) VALUES ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'Acme Learning');
INSERT INTO iam.user_settings (user_id) VALUES ('11111111-1111-4111-8111-111111111111');
SELECT updated_at FROM iam.companies;

BEGIN;
UPDATE iam.companies SET name = 'Acme Academy';
UPDATE iam.user_settings SET theme = 'dark';
SELECT updated_at = now() AS stamped_now FROM iam.companies;
SELECT updated_at = now() AS stamped_now FROM iam.user_settings;
COMMIT;

-- An update that changes nothing leaves updated_at alone.
BEGIN;
UPDATE iam.companies SET name = name;
SELECT updated_at < now() AS unchanged FROM iam.companies;
ROLLBACK;

-- A value written by hand is replaced by the transaction's timestamp.
BEGIN;
UPDATE iam.companies SET updated_at = '2000-01-01';
SELECT updated_at = now() AS stamped_now FROM iam.companies;
ROLLBACK;

-- Misuse of the trigger function is a clear error (SQLSTATE 39P01).
CREATE TABLE no_stamp (id int);
INSERT INTO no_stamp VALUES (1);
CREATE TRIGGER no_stamp_set_updated_at BEFORE UPDATE ON no_stamp
    FOR EACH ROW EXECUTE FUNCTION iam.set_updated_at();
UPDATE no_stamp SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE no_stamp ADD COLUMN updated_at timestamp;
UPDATE no_stamp SET id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE no_stamp DROP COLUMN updated_at;
ALTER TABLE no_stamp ADD COLUMN updated_at timestamptz;
UPDATE no_stamp SET id = 2;
SELECT id, updated_at IS NOT NULL AS stamped FROM no_stamp;
DROP TRIGGER no_stamp_set_updated_at ON no_stamp;
CREATE TRIGGER no_stamp_set_updated_at AFTER UPDATE ON no_stamp
    FOR EACH ROW EXECUTE FUNCTION iam.set_updated_at();
UPDATE no_stamp SET id = 3;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TRIGGER no_stamp_set_updated_at ON no_stamp;
CREATE TRIGGER no_stamp_set_updated_at BEFORE INSERT ON no_stamp
    FOR EACH ROW EXECUTE FUNCTION iam.set_updated_at();
INSERT INTO no_stamp VALUES (4);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE no_stamp;

-- It is a trigger function, not something to call.
SELECT iam.set_updated_at();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

DELETE FROM iam.companies;
DELETE FROM iam.users;
