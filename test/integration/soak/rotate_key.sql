-- A key's owner rotates a random key.
\set pick random(0, 1000000000)
SELECT soak.rotate_key(:pick);
