-- A key's owner revokes a random key.
\set pick random(0, 1000000000)
SELECT soak.revoke_key(:pick);
