-- The permission model's invariants, each a query as the superuser over
-- iam's tables and the bookkeeping of permission_invariants.sql: every row
-- it returns is a violation, as (invariant, op, detail, fingerprint). An op
-- of NULL is a change made outside every operation (setup).
\pset footer off
\pset tuples_only on
\pset format unaligned
\pset fieldsep '\t'

-- The changes that committed, with the operation that made them.
CREATE TEMP VIEW changed AS
SELECT c.*, o.kind, o.actor AS actor_name, o.actor_id, o.key_id, o.db_role, o.path, o.isolation,
       coalesce(o.privileged, true) AS privileged
FROM pinv.changes AS c LEFT JOIN pinv.ops AS o ON o.id = c.op
WHERE c.old IS DISTINCT FROM c.new;

-- (a) iam.can(p, c) and iam.can(p) answer as the plain SQL over the tables,
-- for every identity, registered permission and company (suspended ones and
-- inactive memberships included), for a key as its owner within its scope
-- and company.
SELECT 'a: iam.can() disagrees with the plain SQL over the tables', NULL,
       format('batch %s: %s asked can(%L%s) and got %s; the tables say %s', a.batch, a.ident, a.permission,
              CASE WHEN a.one_arg THEN '' ELSE ', ' || coalesce(a.company_id::text, 'NULL') END,
              a.answer, ref),
       concat_ws(' ', CASE WHEN a.key_id IS NOT NULL THEN 'key' WHEN a.user_id IS NOT NULL THEN 'user'
                           ELSE a.ident END,
                 CASE WHEN a.one_arg THEN 'one-arg' ELSE 'two-arg' END, a.answer)
FROM (SELECT a.*, pinv.ref_can(a.user_id, a.key_id, a.privileged, a.permission, a.company_id, a.one_arg) AS ref
      FROM pinv.answers AS a WHERE a.batch = (SELECT max(batch) FROM pinv.answers)) AS a
WHERE a.answer IS DISTINCT FROM a.ref;

-- A key refused by authenticate_request() is one that no longer stands.
SELECT 'a: a key that stands was refused', NULL, format('batch %s: key %s', r.batch, r.key_id), 'refused key'
FROM pinv.refused_keys AS r
WHERE r.batch = (SELECT max(batch) FROM pinv.answers) AND pinv.key_stands(r.key_id);

-- (b) Every company_member_roles row names a template or a role of the
-- same company, never member or admin.
SELECT 'b: a member holds a role of another company, or member/admin as an extra role', NULL,
       format('%s in %s holds role %s (%s of company %s)', m.user_id, m.company_id, m.company_role_id, r.name,
              coalesce(r.company_id::text, 'none: a template')),
       CASE WHEN r.id IN ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000102')
            THEN 'member/admin assigned' ELSE 'cross-company' END
FROM iam.company_member_roles AS m JOIN iam.company_roles AS r ON r.id = m.company_role_id
WHERE r.id IN ('00000000-0000-4000-8000-000000000101', '00000000-0000-4000-8000-000000000102')
   OR (r.company_id IS NOT NULL AND r.company_id <> m.company_id);

-- (b') A company's role never shares a name with a template; member and
-- admin keep their ids and names.
SELECT 'b: a company role shares a template''s name, or a built-in template changed', NULL,
       format('role %s %s of company %s', r.id, r.name, coalesce(r.company_id::text, 'none')), 'name clash'
FROM iam.company_roles AS r
WHERE (r.company_id IS NOT NULL AND EXISTS (SELECT FROM iam.company_roles AS t
                                             WHERE t.company_id IS NULL AND t.name = r.name))
   OR (r.id = '00000000-0000-4000-8000-000000000101' AND (r.name <> 'member' OR r.company_id IS NOT NULL))
   OR (r.id = '00000000-0000-4000-8000-000000000102' AND (r.name <> 'admin' OR r.company_id IS NOT NULL));
SELECT 'b: a built-in template is missing', NULL, format('template %s', t), 'template missing'
FROM unnest('{00000000-0000-4000-8000-000000000101,00000000-0000-4000-8000-000000000102}'::uuid[]) AS t
WHERE NOT EXISTS (SELECT FROM iam.company_roles WHERE id = t);

-- (c) Nobody gives more than they hold: for every grant or assignment made
-- by an actor who is not the service role or the operator, the actor held
-- what it gave, where it gave it, just before the operation (their grants
-- in that company or at platform level; with a key, also within its scope
-- and company; a company's key: its scope, in its company).
SELECT 'c: gave more than they held', c.op,
       format('%s %s %s %s by %s (%s, %s, %s) gave %L %s; held just before: %s; key: %s', c.kind, c.tg_op, c.tbl,
              c.new, c.actor_name, c.db_role, c.path, c.isolation, g.grant_,
              CASE WHEN g.company_id IS NULL THEN 'at platform level' ELSE 'in ' || g.company_id END,
              (SELECT string_agg(coalesce(h.company_id::text, 'platform') || ' ' || h.grant_, ', ')
               FROM pinv.held AS h WHERE h.op = c.op),
              (SELECT row_to_json(k)::text FROM pinv.held_key AS k WHERE k.op = c.op)),
       concat_ws(' ', c.kind, c.tbl, c.db_role, c.path, CASE WHEN c.key_id IS NOT NULL THEN 'key' END)
FROM changed AS c JOIN pinv.gives AS g ON g.change_id = c.id
LEFT JOIN pinv.held_key AS k ON k.op = c.op
WHERE NOT c.privileged
  AND NOT (
      -- the key's bounds
      (c.key_id IS NULL OR (k.stands AND pinv.scope_covers(k.scope, g.grant_)
                            AND (g.company_id IS NULL OR k.company_id IS NULL OR g.company_id = k.company_id)))
      AND CASE
          WHEN c.key_id IS NOT NULL AND k.user_id IS NULL THEN g.company_id IS NOT NULL AND g.company_id = k.company_id
          ELSE EXISTS (SELECT FROM pinv.held AS h
                       WHERE h.op = c.op AND (h.company_id IS NULL OR h.company_id = g.company_id)
                         AND pinv.covers(h.grant_, g.grant_)) END);

-- (d) Every change to the permission model's tables has its audit row, in
-- its transaction, with its action.
SELECT 'd: a change without its audit row', c.op,
       format('%s %s %s -> %s by %s (%s, %s)', c.kind, c.tg_op, c.tbl, c.old, c.new, c.actor_name, c.db_role, c.path),
       concat_ws(' ', c.tbl, c.tg_op, c.db_role, c.path)
FROM changed AS c
WHERE c.tbl IN ('permissions', 'role_permissions', 'company_roles', 'company_role_permissions', 'company_member_roles')
  AND NOT EXISTS (
      SELECT FROM pinv.audits AS a
      WHERE a.txid = c.txid
        AND a.old IS NOT DISTINCT FROM c.old AND a.new IS NOT DISTINCT FROM c.new
        AND a.action = CASE c.tbl || ' ' || c.tg_op
            WHEN 'permissions INSERT' THEN 'permission_registered'
            WHEN 'permissions UPDATE' THEN 'permission_changed'
            WHEN 'permissions DELETE' THEN 'permission_deleted'
            WHEN 'role_permissions INSERT' THEN 'role_permission_granted'
            WHEN 'role_permissions UPDATE' THEN 'role_permission_changed'
            WHEN 'role_permissions DELETE' THEN 'role_permission_revoked'
            WHEN 'company_role_permissions INSERT' THEN 'role_permission_granted'
            WHEN 'company_role_permissions UPDATE' THEN 'role_permission_changed'
            WHEN 'company_role_permissions DELETE' THEN 'role_permission_revoked'
            WHEN 'company_roles INSERT' THEN 'company_role_created'
            WHEN 'company_roles UPDATE' THEN 'company_role_changed'
            WHEN 'company_roles DELETE' THEN 'company_role_deleted'
            WHEN 'company_member_roles INSERT' THEN 'member_role_assigned'
            WHEN 'company_member_roles UPDATE' THEN 'member_role_reassigned'
            WHEN 'company_member_roles DELETE' THEN 'member_role_removed' END);

-- (e) A refused write changed nothing: the operation's writes were rolled
-- back, the model read the same before and after, and no change or audit
-- row of it remains.
SELECT 'e: a refused write changed something', r.op,
       format('fingerprint %s before, %s after', r.before_fp, r.after_fp), 'fingerprint'
FROM pinv.refused AS r JOIN pinv.ops AS o ON o.id = r.op
-- (under READ COMMITTED another session's commit may come in between)
WHERE r.before_fp IS DISTINCT FROM r.after_fp AND o.isolation <> 'READ COMMITTED';
SELECT 'e: a refused write changed something', c.op,
       format('%s %s %s -> %s by %s (%s, %s)', c.kind, c.tg_op, c.tbl, c.old, c.new, c.actor_name, c.db_role, c.path),
       concat_ws(' ', 'change of a refused operation', c.tbl)
FROM changed AS c WHERE c.op IN (SELECT op FROM pinv.refused);
-- Every operation ended one way or the other.
SELECT 'e: an operation neither committed nor was refused', o.id, format('%s by %s (%s)', o.kind, o.actor, o.path),
       'lost operation'
FROM pinv.ops AS o
WHERE o.batch = (SELECT max(batch) FROM pinv.ops)
  AND NOT EXISTS (SELECT FROM pinv.done WHERE op = o.id) AND NOT EXISTS (SELECT FROM pinv.refused WHERE op = o.id);
