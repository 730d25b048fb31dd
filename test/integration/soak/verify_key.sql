-- An anonymous request verifies a random key ever handed out, live, rotated or revoked.
\set pick random(0, 1000000000)
SELECT soak.verify_key(:pick);
