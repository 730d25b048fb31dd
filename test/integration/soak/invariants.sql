-- After the soak: what must hold, one row per invariant, "what|expected|actual"
-- (actual may go on after its first word: "0 of 1234"). Run by
-- test/integration/soak.sh once pgbench has ended, as a superuser, so that
-- RLS hides no row.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
-- Verifying every plaintext must not itself write last_used_at.
SET iam.last_used_interval = '1d';

-- Every plaintext key ever handed out, verified now.
CREATE TEMP TABLE final_verification AS
SELECT p.id, p.key_id, p.state, k.user_id, k.company_id, k.permissions,
       v.key_id AS got_key, v.user_id AS got_user, v.company_id AS got_company, v.permissions AS got_permissions
FROM soak.plaintexts AS p
JOIN soak.keys AS k USING (key_id)
LEFT JOIN LATERAL iam.verify_api_key(p.api_key) AS v ON true;

-- The role changes that changed something, and the audit rows of the pool,
-- each numbered per (user, role) in the order they happened.
CREATE TEMP TABLE changes AS
SELECT c.target, r.id AS role_id, c.action, c.actor,
       row_number() OVER (PARTITION BY c.target, r.id ORDER BY c.id) AS k
FROM soak.role_changes AS c JOIN iam.roles AS r ON r.name = c.role_name
WHERE c.changed;
CREATE TEMP TABLE audited AS
SELECT a.target_user_id AS target, a.role_id,
       CASE a.action WHEN 'role_granted' THEN 'grant' WHEN 'role_revoked' THEN 'revoke' ELSE a.action END AS action,
       a.actor_user_id AS actor, a.actor_role,
       row_number() OVER (PARTITION BY a.target_user_id, a.role_id ORDER BY a.id) AS k
FROM iam.audit_log AS a
WHERE a.target_user_id IN (SELECT id FROM soak.people WHERE kind = 'pool');

\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
SELECT what, expected, actual FROM (VALUES
-- API keys
(1, 'keys made (seed and create_key) and in iam.api_keys',
 (SELECT count(*) FROM soak.keys)::text, (SELECT count(*) FROM iam.api_keys)::text),
(2, 'keys recorded but missing from iam.api_keys', '0',
 (SELECT count(*) FROM soak.keys AS k WHERE NOT EXISTS (SELECT FROM iam.api_keys AS a WHERE a.id = k.key_id))::text),
(3, 'keys whose owner is not the one recorded', '0',
 (SELECT count(*) FROM soak.keys AS k JOIN iam.api_keys AS a ON a.id = k.key_id
  WHERE a.user_id IS DISTINCT FROM k.user_id OR a.company_id IS DISTINCT FROM k.company_id
     OR a.permissions IS DISTINCT FROM k.permissions)::text),
(4, 'keys whose is_active disagrees with their one live plaintext', '0',
 (SELECT count(*) FROM iam.api_keys AS a
  WHERE (SELECT count(*) FROM soak.plaintexts AS p WHERE p.key_id = a.id AND p.state = 'live')
        <> CASE WHEN a.is_active THEN 1 ELSE 0 END)::text),
(5, 'revoked keys without exactly one revoked plaintext', '0',
 (SELECT count(*) FROM iam.api_keys AS a WHERE NOT a.is_active
    AND (SELECT count(*) FROM soak.plaintexts AS p WHERE p.key_id = a.id AND p.state = 'revoked') <> 1)::text),
(6, 'live plaintexts (every created, non-revoked, non-rotated key) that verify, as their key',
 (SELECT count(*) FROM final_verification WHERE state = 'live')::text,
 (SELECT count(*) FROM final_verification WHERE state = 'live' AND got_key = key_id
    AND got_user IS NOT DISTINCT FROM user_id AND got_company IS NOT DISTINCT FROM company_id
    AND got_permissions = permissions)::text),
(7, 'rotated-away plaintexts that verify', '0',
 (SELECT count(*) FROM final_verification WHERE state = 'rotated' AND got_key IS NOT NULL)::text
   || ' of ' || (SELECT count(*) FROM final_verification WHERE state = 'rotated')),
(8, 'revoked plaintexts that verify', '0',
 (SELECT count(*) FROM final_verification WHERE state = 'revoked' AND got_key IS NOT NULL)::text
   || ' of ' || (SELECT count(*) FROM final_verification WHERE state = 'revoked')),
(9, 'pepper versions (1 + rotations that succeeded)',
 (1 + (SELECT count(*) FROM soak.pepper_rotations WHERE outcome = 'ok'))::text,
 (SELECT count(*) FROM iam.api_key_peppers)::text),
(10, 'keys hashed with a pepper version that does not exist', '0',
 (SELECT count(*) FROM iam.api_keys AS a
  WHERE NOT EXISTS (SELECT FROM iam.api_key_peppers AS p WHERE p.version::text = split_part(a.hashed_key, '$', 2)))::text),
-- Roles and the audit log
(11, 'audit rows role_granted for the pool = grants that changed something',
 (SELECT count(*) FROM changes WHERE action = 'grant')::text,
 (SELECT count(*) FROM audited WHERE action = 'grant')::text),
(12, 'audit rows role_revoked for the pool = revocations that changed something',
 (SELECT count(*) FROM changes WHERE action = 'revoke')::text,
 (SELECT count(*) FROM audited WHERE action = 'revoke')::text),
(13, 'changes without their audit row (same user, role, order, action, actor), or the reverse', '0',
 (SELECT count(*) FROM changes AS c FULL JOIN audited AS a USING (target, role_id, k)
  WHERE c.action IS DISTINCT FROM a.action OR c.actor IS DISTINCT FROM a.actor
     OR a.actor_role IS DISTINCT FROM 'authenticated')::text),
(14, 'pool roles held other than as the last change left them', '0',
 (SELECT count(*) FROM soak.people AS p CROSS JOIN soak.pool_roles AS pr JOIN iam.roles AS r ON r.name = pr.name
  WHERE p.kind = 'pool'
    AND EXISTS (SELECT FROM iam.user_roles AS ur WHERE ur.user_id = p.id AND ur.role_id = r.id)
        IS DISTINCT FROM coalesce((SELECT c.action = 'grant' FROM changes AS c
                                   WHERE c.target = p.id AND c.role_id = r.id ORDER BY c.k DESC LIMIT 1), false))::text),
(15, 'refused role changes (42501) that changed something', '0',
 (SELECT count(*) FROM soak.role_changes WHERE outcome <> 'ok' AND changed)::text),
-- Referrals
(16, 'users referred more than once', '0',
 (SELECT count(*) FROM (SELECT referred_user_id FROM iam.referrals GROUP BY 1 HAVING count(*) > 1) AS twice)::text),
(17, 'referrals = redemptions that succeeded',
 (SELECT count(*) FROM soak.redemptions WHERE outcome = 'ok')::text,
 (SELECT count(*) FROM iam.referrals)::text),
(18, 'referrals without their successful redemption (user and code)', '0',
 (SELECT count(*) FROM iam.referrals AS r JOIN iam.referral_codes AS rc ON rc.id = r.referral_code_used_id
  WHERE NOT EXISTS (SELECT FROM soak.redemptions AS d JOIN soak.codes AS c ON c.n = d.code_n
                    WHERE d.outcome = 'ok' AND d.referred = r.referred_user_id AND c.code = rc.code))::text),
(19, 'new users who redeemed a live code but are not referred', '0',
 (SELECT count(DISTINCT d.referred) FROM soak.redemptions AS d WHERE d.kind = 'live'
    AND NOT EXISTS (SELECT FROM iam.referrals AS r WHERE r.referred_user_id = d.referred))::text),
(20, 'referrals not made by the code''s owner, or of oneself', '0',
 (SELECT count(*) FROM iam.referrals AS r JOIN iam.referral_codes AS rc ON rc.id = r.referral_code_used_id
  WHERE rc.user_id <> r.referrer_user_id OR r.referrer_user_id = r.referred_user_id)::text),
(21, 'referrals by a mistyped, unknown, inactive, expired or own code', '0',
 (SELECT count(*) FROM iam.referrals AS r JOIN iam.referral_codes AS rc ON rc.id = r.referral_code_used_id
  JOIN soak.codes AS c ON c.code = rc.code WHERE c.kind NOT IN ('generated', 'vanity'))::text),
-- Orphans (the foreign keys should make these impossible)
(22, 'orphan referrals (referrer, referred user or code missing)', '0',
 (SELECT count(*) FROM iam.referrals AS r
  WHERE NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = r.referrer_user_id)
     OR NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = r.referred_user_id)
     OR NOT EXISTS (SELECT FROM iam.referral_codes AS c WHERE c.id = r.referral_code_used_id))::text),
(23, 'orphan referral codes (user missing)', '0',
 (SELECT count(*) FROM iam.referral_codes AS c WHERE NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = c.user_id))::text),
(24, 'orphan API keys (user or company missing, or no owner)', '0',
 (SELECT count(*) FROM iam.api_keys AS a
  WHERE (a.user_id IS NOT NULL AND NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = a.user_id))
     OR (a.company_id IS NOT NULL AND NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = a.company_id))
     OR (a.user_id IS NULL AND a.company_id IS NULL))::text),
(25, 'orphan user_roles (user or role missing)', '0',
 (SELECT count(*) FROM iam.user_roles AS ur
  WHERE NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = ur.user_id)
     OR NOT EXISTS (SELECT FROM iam.roles AS r WHERE r.id = ur.role_id))::text),
(26, 'orphan company_users (user or company missing)', '0',
 (SELECT count(*) FROM iam.company_users AS cu
  WHERE NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = cu.user_id)
     OR NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = cu.company_id))::text),
(27, 'orphan user_settings (user missing)', '0',
 (SELECT count(*) FROM iam.user_settings AS s WHERE NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = s.user_id))::text),
(28, 'audit rows about a user who does not exist (no foreign key by design)', '0',
 (SELECT count(*) FROM iam.audit_log AS a
  WHERE a.target_user_id IS NOT NULL
    AND NOT EXISTS (SELECT FROM iam.users AS u WHERE u.id = a.target_user_id))::text),
(29, 'owners with more active keys than iam.max_api_keys_per_owner', '0',
 (SELECT count(*) FROM (
      SELECT user_id FROM iam.api_keys WHERE is_active AND user_id IS NOT NULL
      GROUP BY user_id HAVING count(*) > coalesce(current_setting('iam.max_api_keys_per_owner', true), '100')::int
      UNION ALL
      SELECT company_id FROM iam.api_keys WHERE is_active AND user_id IS NULL
      GROUP BY company_id HAVING count(*) > coalesce(current_setting('iam.max_api_keys_per_owner', true), '100')::int) AS over)::text),
-- The server
(30, 'deadlocks in this database (pg_stat_database)', '0',
 (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database())::text)
) AS invariants (n, what, expected, actual)
ORDER BY n;
