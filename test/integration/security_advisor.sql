-- The rules of Supabase's Security Advisor (its linter, splinter) that apply
-- to an extension's schema, as our own queries: one line per finding,
-- "<lint> <object>", for the schema named by the psql variable `schema`,
-- taken as exposed through PostgREST. Stricter than the linter in one way:
-- objects that belong to an extension are not left out, since ours are
-- exactly what is checked.
--   security_definer_view   a view the API roles may read that runs with
--                           its owner's rights (not security_invoker)
--   {anon,authenticated}_security_definer_function_executable
--                           a SECURITY DEFINER function an API role may
--                           execute
--   function_search_path_mutable
--                           a SQL or PL/pgSQL function that does not pin
--                           search_path (C functions resolve no names by
--                           it: their statements pin it themselves)
--   rls_disabled_in_exposed_schema
--                           a table the API roles may read without RLS
--   extension_in_public     an extension whose schema is public
WITH exposed AS (
    SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace AS n WHERE n.nspname = :'schema'
), api_roles AS (
    SELECT r.rolname FROM pg_catalog.pg_roles AS r WHERE r.rolname IN ('anon', 'authenticated')
), findings (lint, object) AS (
    SELECT 'security_definer_view', format('%I.%I', e.nspname, c.relname)
    FROM pg_catalog.pg_class AS c JOIN exposed AS e ON e.oid = c.relnamespace
    WHERE c.relkind = 'v'
      AND EXISTS (SELECT FROM api_roles AS a WHERE pg_catalog.has_table_privilege(a.rolname, c.oid, 'SELECT'))
      AND NOT EXISTS (SELECT FROM pg_catalog.unnest(coalesce(c.reloptions, '{}')) AS o (option)
                      WHERE lower(o.option) IN ('security_invoker=true', 'security_invoker=on',
                                                'security_invoker=1', 'security_invoker=yes'))
    UNION ALL
    SELECT a.rolname || '_security_definer_function_executable', p.oid::regprocedure::text
    FROM pg_catalog.pg_proc AS p JOIN exposed AS e ON e.oid = p.pronamespace CROSS JOIN api_roles AS a
    WHERE p.prosecdef AND pg_catalog.has_function_privilege(a.rolname, p.oid, 'EXECUTE')
    UNION ALL
    SELECT 'function_search_path_mutable', p.oid::regprocedure::text
    FROM pg_catalog.pg_proc AS p JOIN exposed AS e ON e.oid = p.pronamespace
    JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
    WHERE l.lanname NOT IN ('c', 'internal')
      AND NOT EXISTS (SELECT FROM pg_catalog.unnest(coalesce(p.proconfig, '{}')) AS s (setting)
                      WHERE s.setting LIKE 'search\_path=%')
    UNION ALL
    SELECT 'rls_disabled_in_exposed_schema', format('%I.%I', e.nspname, c.relname)
    FROM pg_catalog.pg_class AS c JOIN exposed AS e ON e.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
      AND EXISTS (SELECT FROM api_roles AS a WHERE pg_catalog.has_table_privilege(a.rolname, c.oid, 'SELECT'))
    UNION ALL
    SELECT 'extension_in_public', x.extname
    FROM pg_catalog.pg_extension AS x
    WHERE x.extnamespace = 'public'::regnamespace AND x.extname <> 'plpgsql'
      AND (x.extname = 'iam_ext' OR :'schema' = 'public')
)
SELECT lint || ' ' || object FROM findings ORDER BY 1;
