-- After the soak: what the workloads did, one line each (soak.sh prints them).
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SELECT 'keys: ' || (SELECT count(*) FROM soak.keys) || ' made ('
       || (SELECT count(*) FROM soak.keys WHERE company_id IS NOT NULL) || ' for a company), '
       || (SELECT count(*) FROM soak.key_operations WHERE operation = 'rotate' AND outcome = 'ok') || ' rotated, '
       || (SELECT count(*) FROM soak.key_operations WHERE operation = 'revoke' AND outcome = 'ok') || ' revoked; refused: '
       || (SELECT count(*) FROM soak.key_operations WHERE operation = 'rotate' AND outcome <> 'ok') || ' rotations of a revoked key, '
       || (SELECT count(*) FROM soak.key_operations WHERE operation = 'revoke' AND outcome <> 'ok') || ' second revocations, '
       || (SELECT count(*) FROM soak.key_operations WHERE operation = 'create' AND outcome = 'capped') || ' creations past the cap';
SELECT 'verifications: ' || count(*) FILTER (WHERE state = 'live') || ' of live keys ('
       || count(*) FILTER (WHERE request = 'authenticated') || ' then authenticated a request, '
       || count(*) FILTER (WHERE request = 'refused after a change') || ' refused as rotated or revoked meanwhile), '
       || count(*) FILTER (WHERE state = 'rotated') || ' of rotated-away and '
       || count(*) FILTER (WHERE state = 'revoked') || ' of revoked keys, none verified'
FROM soak.verifications;
SELECT 'role changes: ' || count(*) FILTER (WHERE changed AND action = 'grant') || ' grants and '
       || count(*) FILTER (WHERE changed AND action = 'revoke') || ' revocations made, '
       || count(*) FILTER (WHERE outcome = 'ok' AND NOT changed) || ' that changed nothing, '
       || count(*) FILTER (WHERE outcome <> 'ok') || ' refused to a plain user (42501)'
FROM soak.role_changes;
SELECT 'redemptions: ' || string_agg(kind || ' ' || outcome || ' ' || n, ', ' ORDER BY kind, outcome)
FROM (SELECT kind, outcome, count(*) AS n FROM soak.redemptions GROUP BY 1, 2) AS r;
SELECT 'pepper: ' || count(*) FILTER (WHERE outcome = 'ok') || ' rotations, '
       || count(*) FILTER (WHERE outcome = '23505') || ' lost a race (23505), '
       || count(*) FILTER (WHERE outcome = 'rolled back') || ' rolled back to a savepoint before a key was made'
FROM soak.pepper_rotations;
