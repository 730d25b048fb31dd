-- Everything an install of iam_ext defines, one sorted line per fact: what
-- upgrade.sh compares between a fresh install and an upgraded one, and what
-- the pg_regress test catalog shows. Columns carry their position: the C
-- code reads some of them by number. (pg_dump cannot do this: it leaves out
-- objects that belong to an extension.) What PostgreSQL 17 and 18 print
-- beyond 15 is left out, so that one expected output serves every server:
-- the MAINTAIN privilege (m) that 17 adds to ALL, the row types that 17
-- lists as members of the extension, and the NOT NULL constraints that 18
-- keeps in pg_constraint (the columns' notnull says the same).
WITH iam AS (SELECT oid FROM pg_namespace WHERE nspname = 'iam'),
facts AS (
    SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
           || ' acl=' || coalesce(regexp_replace(c.relacl::text, 'm/', '/', 'g'), '-')
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-')
    FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM iam)
    UNION ALL
    SELECT 'column ' || c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
           || ' acl=' || coalesce(a.attacl::text, '-') || ' comment=' || coalesce(col_description(c.oid, a.attnum), '-')
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relnamespace = (SELECT oid FROM iam) AND c.relkind IN ('r', 'v', 'm')
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = (SELECT oid FROM iam) AND contype <> 'n'
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(indexrelid)
    FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = (SELECT oid FROM iam))
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(oid)
    FROM pg_trigger WHERE NOT tgisinternal
      AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = (SELECT oid FROM iam))
    UNION ALL
    SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive::text || ' '
           || roles::text || ' ' || cmd || ' using=' || coalesce(qual, '-') || ' check=' || coalesce(with_check, '-')
    FROM pg_policies WHERE schemaname = 'iam'
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ' acl=' || coalesce(p.proacl::text, '-')
           || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-') || E'\n' || pg_get_functiondef(p.oid)
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM iam) AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'schema acl=' || coalesce(nspacl::text, '-') || ' comment=' || coalesce(obj_description(oid, 'pg_namespace'), '-')
    FROM pg_namespace WHERE oid = (SELECT oid FROM iam)
    UNION ALL
    SELECT 'dumped ' || cfg::regclass || ' filter=' || cond
    FROM pg_extension, unnest(extconfig, extcondition) AS u (cfg, cond) WHERE extname = 'iam_ext'
    UNION ALL
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
    FROM pg_depend
    WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
      AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'iam_ext')
      AND classid <> 'pg_type'::regclass
)
SELECT * FROM facts AS f (fact) ORDER BY fact;
