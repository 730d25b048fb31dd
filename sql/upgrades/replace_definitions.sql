-- Between an upgrade's hand-written part and the definitions of sql/schema/:
-- policies have no CREATE OR REPLACE, so an upgrade drops every policy of
-- iam here and sql/schema/ creates them as they are now. Functions,
-- triggers and views are replaced in place.
DO $$
DECLARE
    policy record;
BEGIN
    FOR policy IN SELECT policyname, tablename FROM pg_catalog.pg_policies WHERE schemaname = 'iam' LOOP
        EXECUTE format('DROP POLICY %I ON iam.%I', policy.policyname, policy.tablename);
    END LOOP;
END
$$;
