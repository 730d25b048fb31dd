-- The role-check peer: Supabase-guide style, auth.uid() as SQL and a
-- PL/pgSQL SECURITY DEFINER check joining user_roles and roles.
CREATE FUNCTION bench.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION bench.peer_has_role(role_name text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    RETURN (SELECT count(*) > 0 FROM iam.user_roles ur JOIN iam.roles r ON r.id = ur.role_id
            WHERE ur.user_id = bench.uid() AND r.name = role_name);
END
$$;
GRANT EXECUTE ON FUNCTION bench.uid(), bench.peer_has_role(text) TO authenticated;
