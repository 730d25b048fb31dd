-- A new user (one of 4,000) redeems a code: live, mistyped, unknown, closed or their own.
\set user random(1, 4000)
\set code random(0, 1000000)
\set roll random(1, 100)
\set style random(0, 3)
SELECT soak.redeem(:user, :code, :roll, :style);
