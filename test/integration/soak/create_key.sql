-- A user makes a key for themselves (makers 1-40) or a company admin for the company (41-42).
\set maker random(1, 42)
SELECT soak.create_key(:maker);
