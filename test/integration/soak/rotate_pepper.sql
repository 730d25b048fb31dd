-- The operator rotates the API-key pepper (1 call in 100), or rotates it and
-- rolls that back before making a key (another 1 in 100).
\set roll random(1, 100)
\set maker random(1, 42)
SELECT soak.rotate_pepper(:roll, :maker);
