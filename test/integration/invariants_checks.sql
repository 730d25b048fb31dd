-- The invariants, each a query as the superuser over iam's tables and the
-- bookkeeping of invariants.sql: every row it returns is a violation, as
-- (invariant, op, detail). An op of NULL is a change made outside every
-- operation (setup, or the checks' own verify_api_key).
\pset footer off
\pset tuples_only on
\pset format unaligned
\pset fieldsep '\t'

-- The changes that committed, with the operation that made them; a change
-- that only stamps last_used_at (or a ban's suspended_until) is no change.
CREATE TEMP VIEW changed AS
SELECT c.*, o.kind, o.actor AS actor_name, o.db_role, o.path, o.key_id AS op_key_id,
       coalesce(o.db_role IN ('operator', 'service_role'), true) AS operator
FROM inv.changes AS c LEFT JOIN inv.ops AS o ON o.id = c.op
WHERE c.old IS DISTINCT FROM c.new
  AND NOT (c.tg_op = 'UPDATE' AND c.tbl = 'api_keys'
           AND c.old - '{last_used_at,suspended_until}'::text[] = c.new - '{last_used_at,suspended_until}'::text[]);

-- 1a. No role wider than the actor holds: a role is granted or revoked by
-- the operator, the service role, or a platform_admin, never to oneself.
SELECT 'role granted or revoked by one who may not', op,
       format('%s %s user_roles %s by %s (%s, %s)', kind, tg_op, coalesce(new, old), actor_name, db_role, path),
       concat_ws(' ', kind, tg_op, db_role, path)
FROM changed
WHERE tbl = 'user_roles' AND NOT operator
  AND NOT (coalesce(actor_platform_admin, false)
           AND (tg_op = 'DELETE' OR (new ->> 'user_id')::uuid IS DISTINCT FROM actor));

-- 1b. No membership or company role wider than the actor holds: only the
-- operator, the service role and platform_admin add or bring back members;
-- a company's admin promotes another active member; an invitee joins with
-- at most the role of an invitation addressed to them that they accepted.
SELECT 'membership or company role wider than the actor holds', op,
       format('%s %s company_users %s -> %s by %s (%s, %s)', kind, tg_op, old, new, actor_name, db_role, path),
       concat_ws(' ', kind, tg_op, db_role, path)
FROM changed AS c
WHERE tbl = 'company_users' AND NOT operator AND NOT coalesce(actor_platform_admin, false)
  AND tg_op <> 'DELETE'
  AND (new ->> 'is_active_in_company')::boolean
  AND (tg_op = 'INSERT' OR NOT (old ->> 'is_active_in_company')::boolean
       OR (new ->> 'role_in_company' = 'admin' AND old ->> 'role_in_company' <> 'admin'))
  AND NOT (
      -- an invitation addressed to the actor, accepted by them in this transaction
      (new ->> 'user_id')::uuid = actor AND EXISTS (
          SELECT FROM inv.changes AS i
          WHERE i.txid = c.txid AND i.tbl = 'company_invitations' AND i.tg_op = 'UPDATE'
            AND i.new ->> 'accepted_by' = c.actor::text AND i.old ->> 'accepted_by' IS NULL
            AND i.new ->> 'company_id' = c.new ->> 'company_id'
            AND (c.new ->> 'role_in_company' = 'member' OR i.new ->> 'role_in_company' = 'admin'
                 OR (c.old ->> 'role_in_company' = 'admin' AND (c.old ->> 'is_active_in_company')::boolean))
            AND ((i.new ->> 'invited_user_id')::uuid = c.actor
                 -- an address is the user's once they confirmed it (Supabase Auth)
                 OR (lower(i.new ->> 'invited_email') = (SELECT lower(u.email) FROM iam.users AS u WHERE u.id = c.actor)
                     AND NOT EXISTS (SELECT FROM auth.users AS au
                                     WHERE au.id = c.actor AND au.email_confirmed_at IS NULL))))
      -- a company admin promoting another active member
      OR (tg_op = 'UPDATE' AND (old ->> 'is_active_in_company')::boolean AND coalesce(actor_company_admin, false)
          AND (new ->> 'user_id')::uuid IS DISTINCT FROM actor));

-- 1c. A member is removed or demoted by the company's admins (or the
-- platform): nobody else takes a membership away.
SELECT 'membership removed or demoted by one who may not', op,
       format('%s %s company_users %s -> %s by %s (%s, %s)', kind, tg_op, old, new, actor_name, db_role, path),
       concat_ws(' ', kind, db_role, path)
FROM changed AS c
WHERE tbl = 'company_users' AND tg_op = 'UPDATE' AND NOT operator AND NOT coalesce(actor_platform_admin, false)
  AND (old ->> 'is_active_in_company')::boolean
  AND (NOT (new ->> 'is_active_in_company')::boolean
       OR (old ->> 'role_in_company' = 'admin' AND new ->> 'role_in_company' <> 'admin'))
  AND NOT coalesce(actor_company_admin, false)
  AND NOT ((old ->> 'user_id')::uuid = actor AND old ->> 'role_in_company' = 'admin');

-- 1d. No key scope wider than the actor holds: a request authenticated by
-- an API key writes iam.<table> only with iam:<table>:write. Spending
-- (remaining, refilled_at) and revoking a key presented as leaked are
-- usage, not writes.
SELECT 'write through an API key without its iam:<table>:write', op,
       format('%s %s %s %s -> %s, key %s (%s)', kind, tg_op, tbl, old, new, actor_name, path),
       concat_ws(' ', kind, tg_op, tbl, path)
FROM changed AS c
WHERE request_key AND NOT coalesce(key_may_write, false)
  AND NOT (tbl = 'api_keys' AND tg_op = 'UPDATE'
           AND old - '{remaining,refilled_at}'::text[] = new - '{remaining,refilled_at}'::text[])
  AND NOT (tbl = 'api_keys' AND kind = 'report_key' AND tg_op = 'UPDATE'
           AND old - '{is_active}'::text[] = new - '{is_active}'::text[] AND NOT (new ->> 'is_active')::boolean);

-- 1e. A key never mints a wider or less limited key: a key created in a
-- request authenticated by a key, or naming a key in replaces_key_id, has
-- no permission, expiry, credits or rate limit beyond that key's.
-- The parent is compared as it was when the key was made.
WITH minted AS (
    SELECT c.op, c.kind, c.actor_name, c.path, c.new, c.id AS change_id, c.op_key_id AS parent_id, 'minted by' AS how
    FROM changed AS c
    WHERE c.tbl = 'api_keys' AND c.tg_op = 'INSERT' AND c.op_key_id IS NOT NULL
    UNION ALL
    SELECT c.op, c.kind, c.actor_name, c.path, c.new, c.id, (c.new ->> 'replaces_key_id')::uuid, 'a copy of'
    FROM changed AS c
    WHERE c.tbl = 'api_keys' AND c.tg_op = 'INSERT' AND c.new ->> 'replaces_key_id' IS NOT NULL
      AND c.kind IS DISTINCT FROM 'rotate_key'
), minted_from AS (
    SELECT m.*, (SELECT p.new FROM inv.changes AS p
                 WHERE p.tbl = 'api_keys' AND p.new ->> 'id' = m.parent_id::text AND p.id < m.change_id
                 ORDER BY p.id DESC LIMIT 1) AS parent
    FROM minted AS m
)
SELECT 'a key minted a wider or less limited key', op,
       format('%s: key %s (permissions %s, remaining %s, rate_limit %s) %s key %s (permissions %s, remaining %s, rate_limit %s) by %s (%s)',
              kind, new ->> 'id', new -> 'permissions', new ->> 'remaining', new ->> 'rate_limit', how, parent_id,
              parent -> 'permissions', parent ->> 'remaining', parent ->> 'rate_limit', actor_name, path),
       concat_ws(' ', kind, how, path)
FROM minted_from
WHERE (parent ->> 'remaining' IS NOT NULL AND new ->> 'remaining' IS NULL)
   OR (parent ->> 'rate_limit' IS NOT NULL AND new ->> 'rate_limit' IS NULL)
   OR (how = 'minted by'
       AND EXISTS (SELECT FROM jsonb_array_elements_text(new -> 'permissions') AS q
                   WHERE NOT EXISTS (SELECT FROM jsonb_array_elements_text(parent -> 'permissions') AS p
                                     WHERE p = '*' OR p = q OR (p LIKE '%:*' AND q LIKE left(p, -1) || '%'))));

-- 2. Credits spent across every key derived from a sale (the sold key, keys
-- naming it in replaces_key_id, keys made in requests it authenticated,
-- recursively, since the sale) are at most the credits sellers granted those keys plus the
-- refills due since.
-- A key's first sale grants the credits it sets; a later one what it adds.
WITH RECURSIVE sales AS (
    SELECT (c.new ->> 'id')::uuid AS key_id, c.at,
           (c.new ->> 'remaining')::integer AS level,
           (c.new ->> 'remaining')::integer - coalesce((c.old ->> 'remaining')::integer, 0) AS added,
           (c.new ->> 'refill_amount')::integer AS refill_amount, (c.new ->> 'refill_interval')::interval AS refill_interval
    FROM changed AS c
    WHERE c.tbl = 'api_keys' AND c.new ->> 'remaining' IS NOT NULL
      AND (c.operator OR coalesce(c.actor_platform_admin, false))
      AND (c.tg_op = 'INSERT' OR c.old ->> 'remaining' IS NULL
           OR (c.new ->> 'remaining')::integer > (c.old ->> 'remaining')::integer)
      AND coalesce(c.kind, '') NOT IN ('use_key', 'consume')
), sold AS (
    SELECT s.key_id, s.at, s.refill_amount, s.refill_interval,
           CASE WHEN s.at = min(s.at) OVER (PARTITION BY s.key_id) THEN s.level ELSE s.added END AS granted
    FROM sales AS s
), family (root, key_id) AS (
    SELECT DISTINCT key_id, key_id FROM sold
    UNION
    SELECT f.root, (c.new ->> 'id')::uuid
    FROM family AS f
    JOIN changed AS c ON c.tbl = 'api_keys' AND c.tg_op = 'INSERT'
                     AND (c.op_key_id = f.key_id OR (c.new ->> 'replaces_key_id')::uuid = f.key_id)
    -- derived since the sale: a key made before it came from a key with no
    -- limits, and is bounded by what it was made with
    WHERE c.at > (SELECT min(s.at) FROM sold AS s WHERE s.key_id = f.root)
), first_sale AS (
    SELECT key_id, min(at) AS at FROM sold GROUP BY key_id
), bound AS (
    SELECT f.root, sum(s.granted) AS granted,
           sum(CASE WHEN s.refill_amount IS NOT NULL
                    THEN s.refill_amount * floor(extract(epoch FROM now() - s.at) / extract(epoch FROM s.refill_interval))
                    ELSE 0 END) AS refills_due
    FROM family AS f JOIN sold AS s ON s.key_id = f.key_id
    GROUP BY f.root
), used AS (
    SELECT f.root, sum(sp.cost) AS spent, count(DISTINCT sp.key_id) AS keys,
           string_agg(DISTINCT o.kind, ',') AS kinds, max(sp.op) AS last_op
    FROM family AS f JOIN inv.spent AS sp ON sp.key_id = f.key_id
    JOIN inv.done AS d ON d.op = sp.op JOIN inv.ops AS o ON o.id = sp.op
    -- what the keys spent since the sale
    WHERE sp.at > (SELECT fs.at FROM first_sale AS fs WHERE fs.key_id = f.root)
    GROUP BY f.root
)
SELECT 'credits spent beyond those granted', u.last_op,
       format('sale of key %s: %s credits spent over %s keys (operations %s; derived: %s) > %s granted + %s refills due',
              b.root, u.spent, u.keys, u.kinds,
              (SELECT string_agg(DISTINCT coalesce(o.kind, 'sale'), ',') FROM family AS f
               JOIN changed AS c ON c.tbl = 'api_keys' AND c.tg_op = 'INSERT' AND (c.new ->> 'id')::uuid = f.key_id
               LEFT JOIN inv.ops AS o ON o.id = c.op WHERE f.root = b.root AND f.key_id <> b.root),
              b.granted, b.refills_due)
       || format('; refill dates set by: %s; sales: %s; spending: %s',
                 (SELECT string_agg(format('op %s %s by %s (%s -> %s)', c.op, c.kind, c.actor_name,
                                           c.old ->> 'refilled_at', c.new ->> 'refilled_at'), ', ' ORDER BY c.id)
                  FROM family AS f JOIN changed AS c ON c.tbl = 'api_keys' AND c.tg_op = 'UPDATE'
                                                    AND (c.new ->> 'id')::uuid = f.key_id
                  WHERE f.root = b.root AND c.kind = 'backdate_refill'
                    AND c.old ->> 'refilled_at' IS DISTINCT FROM c.new ->> 'refilled_at'),
                 (SELECT string_agg(format('%s +%s (op %s %s)', left(s.key_id::text, 8), s.granted, c.op, coalesce(c.kind, 'setup')), ', ')
                  FROM family AS f JOIN changed AS c ON c.tbl = 'api_keys' AND (c.new ->> 'id')::uuid = f.key_id
                  JOIN sold AS s ON s.key_id = f.key_id AND s.at = c.at WHERE f.root = b.root),
                 (SELECT string_agg(format('%s -%s (op %s %s)', left(sp.key_id::text, 8), sp.cost, sp.op, o.kind), ', ' ORDER BY sp.op)
                  FROM family AS f JOIN inv.spent AS sp ON sp.key_id = f.key_id JOIN inv.ops AS o ON o.id = sp.op
                  WHERE f.root = b.root AND sp.at > (SELECT fs.at FROM first_sale AS fs WHERE fs.key_id = f.root))),
       b.root::text
FROM bound AS b JOIN used AS u ON u.root = b.root
WHERE u.spent > b.granted + b.refills_due
  -- A seller (the operator, the service role, a platform_admin) who moves a
  -- key's refill date grants the refills that makes due: their terms, not
  -- an escape from them.
  AND NOT EXISTS (SELECT FROM family AS f
                  JOIN changed AS c ON c.tbl = 'api_keys' AND c.tg_op = 'UPDATE'
                                   AND (c.new ->> 'id')::uuid = f.key_id
                  WHERE f.root = b.root AND (c.operator OR coalesce(c.actor_platform_admin, false))
                    AND c.old ->> 'refilled_at' IS DISTINCT FROM c.new ->> 'refilled_at'
                    AND coalesce(c.kind, '') NOT IN ('use_key', 'consume'));

-- 3. No change to an audited table (roles, user_roles, company_users,
-- company_invitations, api_keys, credits and limits included) without its
-- audit row in the same transaction. Spending is not a change of credits.
WITH needs AS (
    SELECT c.txid, c.tbl, count(*) AS changes, min(c.op) AS op, string_agg(DISTINCT coalesce(c.kind, 'setup'), ',') AS kinds,
           string_agg(DISTINCT c.path, ',') AS paths, string_agg(DISTINCT coalesce(c.actor_name, '?'), ',') AS actors,
           string_agg(DISTINCT c.tg_op || CASE WHEN c.tg_op = 'UPDATE' THEN ' of ' || (
               SELECT string_agg(e.key, ' ' ORDER BY e.key) FROM jsonb_each(c.new) AS e
               WHERE c.old -> e.key IS DISTINCT FROM e.value) ELSE '' END, ', ') AS what
    FROM changed AS c
    WHERE c.tbl IN ('roles', 'user_roles', 'company_users', 'company_invitations', 'api_keys')
      -- spending (fewer credits) or a refill (refilled_at moves on), by any
      -- request: usage, not a change of credits
      AND NOT (c.tbl = 'api_keys' AND c.tg_op = 'UPDATE'
               AND c.old - '{remaining,refilled_at}'::text[] = c.new - '{remaining,refilled_at}'::text[]
               AND ((c.old ->> 'refilled_at' IS NOT DISTINCT FROM c.new ->> 'refilled_at'
                     AND (c.new ->> 'remaining')::integer < (c.old ->> 'remaining')::integer)
                    OR (c.new ->> 'refilled_at')::timestamptz > (c.old ->> 'refilled_at')::timestamptz))
    GROUP BY c.txid, c.tbl
)
SELECT 'change to an audited table without its audit row', n.op,
       format('%s %s row change(s) of %s (%s), %s audit row(s), by %s (%s)', n.kinds, n.changes, n.tbl, n.what,
              (SELECT count(*) FROM inv.audits AS a WHERE a.txid = n.txid), n.actors, n.paths),
       concat_ws(' ', n.kinds, n.tbl, n.paths)
FROM needs AS n
WHERE n.changes > (SELECT count(*) FROM inv.audits AS a
                   WHERE a.txid = n.txid
                     AND a.action LIKE CASE n.tbl WHEN 'roles' THEN 'catalog_role_%' WHEN 'user_roles' THEN 'role_%'
                                                  WHEN 'company_users' THEN 'member_%'
                                                  WHEN 'company_invitations' THEN 'invitation_%'
                                                  ELSE 'api_key_%' END);

-- 4. Every company keeps an active admin, unless the operator, the service
-- role or a platform_admin changed its memberships.
SELECT 'company left without an admin', (SELECT max(c.op) FROM changed AS c
                                         WHERE c.tbl = 'company_users' AND c.new ->> 'company_id' = co.id::text),
       format('%s (%s) has no active admin; its admins were removed by: %s', co.name, co.id,
              (SELECT string_agg(format('op %s %s by %s (%s, %s)', c.op, c.kind, c.actor_name, c.path,
                                        (SELECT o.isolation FROM inv.ops AS o WHERE o.id = c.op)), '; ' ORDER BY c.id)
               FROM changed AS c
               WHERE c.tbl = 'company_users' AND c.old ->> 'company_id' = co.id::text
                 AND c.old ->> 'role_in_company' = 'admin' AND (c.old ->> 'is_active_in_company')::boolean)),
       co.id::text
FROM iam.companies AS co
WHERE NOT co.is_deleted
  AND NOT EXISTS (SELECT FROM iam.company_users AS cu WHERE cu.company_id = co.id AND cu.is_active_in_company
                                                         AND cu.role_in_company = 'admin')
  -- the last admin was removed by the platform itself
  AND NOT coalesce((SELECT c.operator OR coalesce(c.actor_platform_admin, false)
                    FROM changed AS c
                    WHERE c.tbl = 'company_users' AND c.old ->> 'company_id' = co.id::text
                      AND c.old ->> 'role_in_company' = 'admin' AND (c.old ->> 'is_active_in_company')::boolean
                      AND (c.tg_op = 'DELETE' OR c.new ->> 'role_in_company' <> 'admin'
                           OR NOT (c.new ->> 'is_active_in_company')::boolean)
                    ORDER BY c.id DESC LIMIT 1), false);

-- 5. A revoked or reported key never verifies again, whatever its state
-- when it was revoked or reported, and whatever is restored since.
WITH dead AS (
    SELECT r.op, r.key_id, r.secret,
           CASE WHEN r.verified THEN 'reported' ELSE 'reported while it did not verify' END AS how
    FROM inv.reported AS r JOIN inv.done AS d ON d.op = r.op
    UNION ALL
    SELECT c.op, s.key_id, s.secret, 'revoked'
    FROM changed AS c JOIN inv.secrets AS s ON s.key_id = (c.new ->> 'id')::uuid
    WHERE c.tbl = 'api_keys' AND c.tg_op = 'UPDATE' AND (c.old ->> 'is_active')::boolean
      AND NOT (c.new ->> 'is_active')::boolean
)
SELECT 'a revoked or reported key verifies again', d.op,
       format('key %s, %s by op %s (%s by %s, %s), verifies', d.key_id, d.how, d.op, o.kind, o.actor, o.path),
       concat_ws(' ', d.key_id, d.how)
FROM dead AS d LEFT JOIN inv.ops AS o ON o.id = d.op
WHERE EXISTS (SELECT FROM iam.verify_api_key(d.secret));

-- 6. No answer of a check differs from the plain SQL it stands for, in a
-- WHERE clause or a select list, NULLs included.
SELECT 'a check answers otherwise than the plain SQL it stands for', a.op,
       format('%s in %s as %s (%s, %s): WHERE gives {%s}, select list gives {%s}, plain SQL gives {%s}',
              a.checked, a.context, o.actor, o.path, o.isolation, a.via_where, a.via_select, a.plain),
       concat_ws(' ', a.checked, a.context)
FROM inv.answers AS a JOIN inv.done AS d ON d.op = a.op JOIN inv.ops AS o ON o.id = a.op
WHERE a.via_where IS DISTINCT FROM a.plain OR a.via_select IS DISTINCT FROM a.plain;

-- 7. Nothing refused through the functions succeeds another way:
-- LOCK TABLE on iam's tables is refused to the API roles, so no API role
-- holds a lock on them that stalls the role checks, through any relation.
SELECT 'an API role holds a lock on an iam table that stalls the checks', l.op,
       format('%s on %s by %s (%s): %s', l.mode, l.relation, o.actor, o.path, replace(o.body, E'\n', ' ')),
       concat_ws(' ', l.mode, l.relation, o.kind)
FROM inv.locks AS l JOIN inv.ops AS o ON o.id = l.op
WHERE o.db_role IN ('anon', 'authenticated');

-- 7b. A reactivated member, a key switched back on, a widened key: the
-- functions refuse these to everyone but the platform; a change of an
-- inactive key to active, or of a key's permissions to wider ones, never
-- happens.
SELECT 'a revoked key switched back on', c.op,
       format('%s key %s by %s (%s)', c.kind, c.new ->> 'id', c.actor_name, c.path),
       concat_ws(' ', c.kind, c.path)
FROM changed AS c
WHERE c.tbl = 'api_keys' AND c.tg_op = 'UPDATE' AND NOT (c.old ->> 'is_active')::boolean
  AND (c.new ->> 'is_active')::boolean AND NOT c.operator;
