-- CREATE EXTENSION: schema iam, the nine tables of the data model, the seven roles.
CREATE EXTENSION iam_ext;
SELECT extversion, extrelocatable FROM pg_extension WHERE extname = 'iam_ext';

SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'iam' AND c.relkind = 'r'
ORDER BY 1;

SELECT id, name, description FROM iam.roles ORDER BY id;

-- Every table and every column carries a comment.
SELECT c.relname, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'iam' AND c.relkind = 'r' AND col_description(c.oid, a.attnum) IS NULL;
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'iam' AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NULL;

-- Every table is dumped with the database; only roles is filtered (seeded rows).
SELECT unnest(extconfig)::regclass AS config_table, unnest(extcondition) <> '' AS filter_is_set
FROM pg_extension WHERE extname = 'iam_ext' ORDER BY 1;

-- Installing twice: an error, or a no-op with IF NOT EXISTS.
CREATE EXTENSION iam_ext;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE EXTENSION IF NOT EXISTS iam_ext;

-- DROP EXTENSION takes the whole schema with it, and the extension can be
-- installed again.
DROP EXTENSION iam_ext;
SELECT count(*) AS iam_schemas FROM pg_namespace WHERE nspname = 'iam';

-- A schema iam that is not ours is never taken over.
CREATE SCHEMA iam;
CREATE EXTENSION iam_ext;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SCHEMA iam;

CREATE EXTENSION iam_ext;
SELECT count(*) AS roles FROM iam.roles;
