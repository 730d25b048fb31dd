-- The API-key peer: the common PL/pgSQL + pgcrypto way, the same keys (from
-- bench.keys (k)) stored as unkeyed SHA-256 hex, looked up by prefix and hash.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE bench.peer_keys (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), key_prefix text UNIQUE,
                              key_hash text, user_id uuid, is_active boolean DEFAULT true, expires_at timestamptz);
INSERT INTO bench.peer_keys (key_prefix, key_hash, user_id)
SELECT substr(k, 5, 8), encode(digest(k, 'sha256'), 'hex'), '00000000-0000-4000-8000-000000000001' FROM bench.keys;
CREATE INDEX ON bench.peer_keys (key_prefix, key_hash);
ANALYZE bench.peer_keys;
CREATE FUNCTION bench.peer_verify(api_key text)
    RETURNS TABLE (key_id uuid, user_id uuid) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT k.id, k.user_id FROM bench.peer_keys AS k
    WHERE k.key_prefix = substr(api_key, 5, 8) AND k.key_hash = encode(digest(api_key, 'sha256'), 'hex')
      AND k.is_active AND (k.expires_at IS NULL OR k.expires_at > now());
END
$$;
