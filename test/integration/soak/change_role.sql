-- A platform_admin (or, 1 time in 20, a plain user) grants or revokes one of 5 roles of one of 20 users.
\set actor random(1, 20)
\set target random(1, 20)
\set role random(1, 5)
\set grant random(0, 1)
SELECT soak.change_role(:actor, :target, :role, :grant);
