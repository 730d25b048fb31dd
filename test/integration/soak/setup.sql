-- The concurrency soak's database (test/integration/soak.sh): the extension,
-- a population of users, companies and referral codes, the side tables in
-- which every workload records what it did in the same transaction as the
-- change itself, and one PL/pgSQL wrapper per workload. A wrapper catches
-- only the SQLSTATEs its operation may legitimately end with, checks each
-- outcome against what it knows, and raises anything else, so that pgbench
-- aborts the client and the soak fails.
--
-- Callers act as PostgREST makes them act: role authenticated (or anon)
-- with the JWT claims of a user, set locally for the transaction
-- (soak.act_as); RLS and the role checks apply as they do in production.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION iam_ext;
\ir ../../fixtures/supabase_roles.sql
DO $$ BEGIN PERFORM iam.apply_grants(); END $$;

CREATE SCHEMA soak;

-- People, by kind: admins (platform_admin) grant and revoke roles; owners
-- and company admins make, rotate and revoke keys; the pool's roles change;
-- referrers own the codes; new users redeem them.
CREATE TABLE soak.people (kind text, n int, id uuid PRIMARY KEY, UNIQUE (kind, n));
INSERT INTO soak.people
SELECT kind, n, (prefix || '-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid
FROM (VALUES ('admin', 'aa000000', 2), ('owner', 'b0000000', 40), ('company_admin', 'ca000000', 2),
             ('pool', 'd0000000', 20), ('referrer', 'e0000000', 20), ('new', 'f0000000', 4000))
     AS k (kind, prefix, total),
     generate_series(1, total) AS n;
INSERT INTO iam.users (id, full_name) SELECT id, kind || ' ' || n FROM soak.people;

CREATE TABLE soak.companies (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO soak.companies
SELECT n, ('c0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid FROM generate_series(1, 2) AS n;
INSERT INTO iam.companies (id, name) SELECT id, 'soak company ' || n FROM soak.companies;
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT p.id, c.id, 'admin' FROM soak.people AS p JOIN soak.companies AS c USING (n) WHERE p.kind = 'company_admin';
SELECT count(iam.grant_role(id, 'platform_admin')) AS admins FROM soak.people WHERE kind = 'admin' \gset
SELECT count(iam.grant_role(id, 'enterprise_admin')) AS company_admins FROM soak.people WHERE kind = 'company_admin' \gset

-- Who makes keys: 40 users for themselves, 2 company admins for their company.
CREATE TABLE soak.key_makers (n int PRIMARY KEY, actor uuid NOT NULL, company_id uuid);
INSERT INTO soak.key_makers
SELECT p.n, p.id, NULL FROM soak.people AS p WHERE p.kind = 'owner'
UNION ALL
SELECT 40 + p.n, p.id, c.id FROM soak.people AS p JOIN soak.companies AS c USING (n) WHERE p.kind = 'company_admin';

-- The roles that change hands in the pool.
CREATE TABLE soak.pool_roles (n int PRIMARY KEY, name text NOT NULL);
INSERT INTO soak.pool_roles
VALUES (1, 'solo_learner'), (2, 'enterprise_employee'), (3, 'course_creator'), (4, 'consultant'), (5, 'support_agent');

-- Referral codes: 16 generated, 2 vanity, one deactivated, one expired.
SELECT count(iam.create_referral_code(id)) AS generated_codes FROM soak.people
WHERE kind = 'referrer' AND n NOT IN (17, 18) \gset
SELECT count(iam.create_referral_code(id, 'soak-code-' || n)) AS vanity_codes FROM soak.people
WHERE kind = 'referrer' AND n IN (17, 18) \gset
CREATE TABLE soak.codes (n int PRIMARY KEY, kind text NOT NULL, code text NOT NULL, owner uuid NOT NULL);
INSERT INTO soak.codes
SELECT p.n, CASE WHEN p.n IN (17, 18) THEN 'vanity' WHEN p.n = 19 THEN 'inactive'
                 WHEN p.n = 20 THEN 'expired' ELSE 'generated' END,
       rc.code, p.id
FROM soak.people AS p JOIN iam.referral_codes AS rc ON rc.user_id = p.id WHERE p.kind = 'referrer';
UPDATE iam.referral_codes SET is_active = false WHERE code = (SELECT code FROM soak.codes WHERE n = 19);
UPDATE iam.referral_codes SET expires_at = now() - interval '1 day'
WHERE code = (SELECT code FROM soak.codes WHERE n = 20);

------------------------------------------------------------------------------
-- What the workloads did, written in the same transaction as the change.
------------------------------------------------------------------------------
CREATE TABLE soak.keys (
    id          bigserial PRIMARY KEY,
    key_id      uuid NOT NULL UNIQUE,
    actor       uuid NOT NULL,
    user_id     uuid,
    company_id  uuid,
    permissions jsonb NOT NULL
);
-- Every plaintext key ever handed out: live (the key's current secret),
-- rotated (replaced by a rotation) or revoked (the key's last secret when it
-- was revoked).
CREATE TABLE soak.plaintexts (
    id       bigserial PRIMARY KEY,
    key_id   uuid NOT NULL REFERENCES soak.keys (key_id),
    api_key  text NOT NULL UNIQUE,
    state    text NOT NULL CHECK (state IN ('live', 'rotated', 'revoked')),
    made_by  text NOT NULL CHECK (made_by IN ('create', 'rotate'))
);
CREATE INDEX ON soak.plaintexts (key_id);
-- One row per verification, for the figures only (unlogged: cheap).
CREATE UNLOGGED TABLE soak.verifications (state text NOT NULL, request text NOT NULL);
CREATE TABLE soak.key_operations (operation text NOT NULL, outcome text NOT NULL);
CREATE TABLE soak.role_changes (
    id        bigserial PRIMARY KEY,
    actor     uuid NOT NULL,
    target    uuid NOT NULL,
    role_name text NOT NULL,
    action    text NOT NULL CHECK (action IN ('grant', 'revoke')),
    outcome   text NOT NULL,       -- ok or the SQLSTATE of a refusal
    changed   boolean NOT NULL
);
CREATE TABLE soak.redemptions (
    id       bigserial PRIMARY KEY,
    referred uuid NOT NULL,
    code_n   int,                  -- NULL for an unknown code
    kind     text NOT NULL,
    typed    text NOT NULL,
    outcome  text NOT NULL         -- ok or the SQLSTATE
);
CREATE TABLE soak.pepper_rotations (version int, outcome text NOT NULL);

GRANT USAGE ON SCHEMA soak TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA soak TO anon, authenticated;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA soak TO anon, authenticated;

------------------------------------------------------------------------------
-- Acting as a caller, for the rest of the transaction.
------------------------------------------------------------------------------
CREATE FUNCTION soak.act_as(who uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'none', true);
    PERFORM set_config('request.headers', '', true);
    PERFORM set_config('request.jwt.claims',
                       json_build_object('sub', who, 'role', 'authenticated')::text, true);
    PERFORM set_config('role', 'authenticated', true);
END
$$;

-- An anonymous request, as PostgREST starts one.
CREATE FUNCTION soak.act_as_anon() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'none', true);
    PERFORM set_config('request.headers', '', true);
    PERFORM set_config('request.jwt.claims', '{"role": "anon"}', true);
    PERFORM set_config('role', 'anon', true);
END
$$;

CREATE FUNCTION soak.fail(message text, VARIADIC arguments text[] DEFAULT '{}') RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'soak invariant broken: %', format(message, VARIADIC arguments)
        USING ERRCODE = 'data_exception';
END
$$;

-- For a failure message: the key's row as the server sees it (read as the
-- session's superuser: the caller may not read hashes or peppers).
CREATE FUNCTION soak.key_state(key uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    described text;
BEGIN
    PERFORM set_config('role', 'none', true);
    SELECT format('is_active %s, pepper version %s (highest %s)', a.is_active, split_part(a.hashed_key, '$', 2),
                  (SELECT max(version) FROM iam.api_key_peppers))
    INTO described FROM iam.api_keys AS a WHERE a.id = key;
    RETURN coalesce(described, 'no such key');
END
$$;

-- A random row of a growing table (the first id at or after a random
-- point): every other pick among the newest few, so that several clients
-- work on the same rows at once.
CREATE FUNCTION soak.pick(pick bigint, newest bigint, hot int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN pick % 2 = 0 THEN 1 + pick / 2 % newest ELSE greatest(1, newest - pick / 2 % hot) END
$$;
CREATE FUNCTION soak.pick_key(pick bigint) RETURNS soak.keys LANGUAGE sql AS $$
    SELECT * FROM soak.keys
    WHERE id >= soak.pick(pick, (SELECT max(id) FROM soak.keys), 16) ORDER BY id LIMIT 1
$$;

------------------------------------------------------------------------------
-- API keys
------------------------------------------------------------------------------
-- What a key's permissions must answer (see soak.create_key).
CREATE FUNCTION soak.may_export(permissions jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT permissions @> '["*"]' OR permissions @> '["reports:*"]'
$$;
CREATE FUNCTION soak.may_administer(permissions jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT permissions @> '["*"]'
$$;

-- A key for oneself (makers 1-40) or for one's company (41-42); it verifies
-- from the next statement on. An owner at iam.max_api_keys_per_owner active
-- keys is refused (53400), and the invariants check that no owner ever
-- passes it, however the sessions interleave.
CREATE FUNCTION soak.create_key(maker int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m soak.key_makers;
    permissions jsonb;
    made record;
BEGIN
    SELECT * INTO STRICT m FROM soak.key_makers WHERE n = maker;
    permissions := (ARRAY['["courses:read", "reports:*"]', '["*"]', '[]'])[1 + maker % 3]::jsonb;
    PERFORM soak.act_as(m.actor);
    BEGIN
        SELECT * INTO STRICT made FROM iam.create_api_key('soak', NULL, m.company_id, permissions);
    EXCEPTION WHEN configuration_limit_exceeded THEN
        INSERT INTO soak.key_operations VALUES ('create', 'capped');
        RETURN;
    END;
    INSERT INTO soak.keys (key_id, actor, user_id, company_id, permissions)
    VALUES (made.id, m.actor, CASE WHEN m.company_id IS NULL THEN m.actor END, m.company_id, permissions);
    INSERT INTO soak.plaintexts (key_id, api_key, state, made_by) VALUES (made.id, made.api_key, 'live', 'create');
    IF made.api_key NOT LIKE 'iam\_' || made.key_prefix || '\_%' THEN
        PERFORM soak.fail('key %s does not begin with its prefix %s', made.id::text, made.key_prefix);
    END IF;
    IF NOT EXISTS (SELECT FROM iam.verify_api_key(made.api_key) AS v
                   WHERE v.key_id = made.id AND v.user_id IS NOT DISTINCT FROM
                         CASE WHEN m.company_id IS NULL THEN m.actor END
                     AND v.company_id IS NOT DISTINCT FROM m.company_id) THEN
        PERFORM soak.fail('key %s does not verify right after its creation; %s', made.id::text,
                          soak.key_state(made.id));
    END IF;
    INSERT INTO soak.key_operations VALUES ('create', 'ok');
END
$$;

-- An anonymous request verifies a random plaintext ever handed out: a live
-- one verifies, for its owner and with its permissions; a rotated or revoked
-- one does not. The side table and the keys are read in one statement, so
-- with one snapshot. A live key then authenticates a PostgREST-shaped
-- request (x-api-key header, iam.authenticate_request).
CREATE FUNCTION soak.verify_key(pick bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    request text := 'none';
BEGIN
    PERFORM soak.act_as_anon();
    SELECT p.id, p.key_id, p.api_key, p.state, k.user_id, k.company_id, k.permissions,
           v.key_id AS got_key, v.user_id AS got_user, v.company_id AS got_company,
           v.permissions AS got_permissions,
           iam.api_key_has_permission(p.api_key, 'reports:export') AS can_export,
           iam.api_key_has_permission(p.api_key, 'admin:write') AS can_administer
    INTO STRICT r
    FROM soak.plaintexts AS p
    JOIN soak.keys AS k USING (key_id)
    LEFT JOIN LATERAL iam.verify_api_key(p.api_key) AS v ON true
    WHERE p.id = (SELECT min(id) FROM soak.plaintexts
                  WHERE id >= soak.pick(pick, (SELECT max(id) FROM soak.plaintexts), 32));
    IF r.state = 'live' THEN
        IF r.got_key IS DISTINCT FROM r.key_id OR r.got_user IS DISTINCT FROM r.user_id
           OR r.got_company IS DISTINCT FROM r.company_id
           OR r.got_permissions IS DISTINCT FROM r.permissions THEN
            PERFORM soak.fail('live key %s of plaintext %s verified as key %s (user %s, company %s); %s',
                              r.key_id::text, r.id::text, r.got_key::text, r.got_user::text,
                              r.got_company::text, soak.key_state(r.key_id));
        END IF;
        IF r.can_export IS DISTINCT FROM soak.may_export(r.permissions)
           OR r.can_administer IS DISTINCT FROM soak.may_administer(r.permissions) THEN
            PERFORM soak.fail('live key %s: wrong permission answers (%s, %s) for %s', r.key_id::text,
                              r.can_export::text, r.can_administer::text, r.permissions::text);
        END IF;
        PERFORM set_config('request.headers', json_build_object('x-api-key', r.api_key)::text, true);
        BEGIN
            PERFORM iam.authenticate_request();
            request := 'authenticated';
        EXCEPTION WHEN invalid_authorization_specification THEN
            -- Only if the key was rotated or revoked since the statement above.
            IF EXISTS (SELECT FROM soak.plaintexts WHERE id = r.id AND state = 'live') THEN
                PERFORM soak.fail('live key %s refused by authenticate_request; %s', r.key_id::text,
                                  soak.key_state(r.key_id));
            END IF;
            request := 'refused after a change';
        END;
        IF request = 'authenticated' THEN
            IF current_user <> 'authenticated' THEN
                PERFORM soak.fail('a request with key %s runs as %s', r.key_id::text, current_user::text);
            END IF;
            IF iam.current_user_id() IS DISTINCT FROM r.user_id THEN
                PERFORM soak.fail('a request with key %s acts for %s instead of %s', r.key_id::text,
                                  iam.current_user_id()::text, r.user_id::text);
            END IF;
            IF r.company_id IS NOT NULL AND NOT r.company_id = ANY (iam.current_company_ids()) THEN
                PERFORM soak.fail('a request with company key %s is not in its company', r.key_id::text);
            END IF;
            -- The key as this statement sees it: a key rotated or revoked
            -- since authenticate_request holds nothing any more.
            IF iam.has_permission('reports:export') IS DISTINCT FROM soak.may_export(r.permissions)
               AND (iam.has_permission('reports:export')
                    OR EXISTS (SELECT FROM soak.plaintexts WHERE id = r.id AND state = 'live')) THEN
                PERFORM soak.fail('a request with key %s has the wrong permissions', r.key_id::text);
            END IF;
        END IF;
    ELSIF r.got_key IS NOT NULL OR r.can_export OR r.can_administer THEN
        PERFORM soak.fail('%s plaintext %s of key %s still verifies; %s', r.state, r.id::text, r.key_id::text,
                          soak.key_state(r.key_id));
    END IF;
    INSERT INTO soak.verifications VALUES (r.state, request);
END
$$;

-- The key's owner (or company admin) rotates a random key: the new secret
-- verifies and the old one does not, at once. Refused (P0002) only for a
-- revoked key. The key's row lock orders rotations and revocations of one
-- key, so the bookkeeping after it sees the previous one's.
CREATE FUNCTION soak.rotate_key(pick bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k soak.keys := soak.pick_key(pick);
    made record;
    old_key text;
    updated bigint;
BEGIN
    PERFORM soak.act_as(k.actor);
    BEGIN
        SELECT * INTO STRICT made FROM iam.rotate_api_key(k.key_id);
    EXCEPTION WHEN no_data_found THEN
        IF EXISTS (SELECT FROM iam.api_keys WHERE id = k.key_id AND is_active)
           OR NOT EXISTS (SELECT FROM soak.plaintexts WHERE key_id = k.key_id AND state = 'revoked') THEN
            PERFORM soak.fail('rotation of key %s refused, but it was not revoked', k.key_id::text);
        END IF;
        INSERT INTO soak.key_operations VALUES ('rotate', 'revoked key refused');
        RETURN;
    END;
    IF made.id IS DISTINCT FROM k.key_id THEN
        PERFORM soak.fail('rotation of key %s returned key %s', k.key_id::text, made.id::text);
    END IF;
    UPDATE soak.plaintexts SET state = 'rotated' WHERE key_id = k.key_id AND state = 'live'
    RETURNING api_key INTO old_key;
    GET DIAGNOSTICS updated = ROW_COUNT;
    IF updated <> 1 THEN
        PERFORM soak.fail('key %s had %s live plaintexts when rotated', k.key_id::text, updated::text);
    END IF;
    INSERT INTO soak.plaintexts (key_id, api_key, state, made_by) VALUES (k.key_id, made.api_key, 'live', 'rotate');
    IF NOT EXISTS (SELECT FROM iam.verify_api_key(made.api_key) AS v WHERE v.key_id = k.key_id) THEN
        PERFORM soak.fail('key %s does not verify with its new secret; %s', k.key_id::text, soak.key_state(k.key_id));
    END IF;
    IF EXISTS (SELECT FROM iam.verify_api_key(old_key)) THEN
        PERFORM soak.fail('key %s still verifies with the secret it was rotated from', k.key_id::text);
    END IF;
    INSERT INTO soak.key_operations VALUES ('rotate', 'ok');
END
$$;

-- The key's owner revokes a random key: true once, false afterwards.
CREATE FUNCTION soak.revoke_key(pick bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k soak.keys := soak.pick_key(pick);
    old_key text;
    updated bigint;
BEGIN
    PERFORM soak.act_as(k.actor);
    IF iam.revoke_api_key(k.key_id) THEN
        UPDATE soak.plaintexts SET state = 'revoked' WHERE key_id = k.key_id AND state = 'live'
        RETURNING api_key INTO old_key;
        GET DIAGNOSTICS updated = ROW_COUNT;
        IF updated <> 1 THEN
            PERFORM soak.fail('key %s had %s live plaintexts when revoked', k.key_id::text, updated::text);
        END IF;
        IF EXISTS (SELECT FROM iam.verify_api_key(old_key)) THEN
            PERFORM soak.fail('key %s still verifies once revoked', k.key_id::text);
        END IF;
        INSERT INTO soak.key_operations VALUES ('revoke', 'ok');
    ELSE
        IF NOT EXISTS (SELECT FROM soak.plaintexts WHERE key_id = k.key_id AND state = 'revoked') THEN
            PERFORM soak.fail('revocation of key %s changed nothing, but it was not revoked', k.key_id::text);
        END IF;
        INSERT INTO soak.key_operations VALUES ('revoke', 'already revoked');
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Roles: a platform_admin (actors 1-19) or a plain user (actor 20, refused
-- with 42501) grants or revokes one of 5 roles of one of 20 users.
------------------------------------------------------------------------------
CREATE FUNCTION soak.change_role(actor_pick int, target_pick int, role_pick int, grant_pick int)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    is_admin boolean := actor_pick < 20;
    actor uuid := (SELECT id FROM soak.people
                   WHERE (kind, n) = (CASE WHEN is_admin THEN 'admin' ELSE 'owner' END, 1 + actor_pick % 2));
    target uuid := (SELECT id FROM soak.people WHERE kind = 'pool' AND n = target_pick);
    role_name text := (SELECT name FROM soak.pool_roles WHERE n = role_pick);
    granting boolean := grant_pick = 1;
    changed boolean := false;
    outcome text := 'ok';
BEGIN
    PERFORM soak.act_as(actor);
    BEGIN
        IF granting THEN
            changed := iam.grant_role(target, role_name);
        ELSE
            changed := iam.revoke_role(target, role_name);
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        outcome := SQLSTATE;
    END;
    IF is_admin <> (outcome = 'ok') THEN
        PERFORM soak.fail('role change by %s (platform_admin: %s): %s', actor::text, is_admin::text, outcome);
    END IF;
    INSERT INTO soak.role_changes (actor, target, role_name, action, outcome, changed)
    VALUES (actor, target, role_name, CASE WHEN granting THEN 'grant' ELSE 'revoke' END, outcome, changed);
    -- Our own change holds the row until we commit: the next statement sees it.
    IF changed AND iam.has_role(target, role_name) <> granting THEN
        PERFORM soak.fail('%s of %s to %s is not seen by has_role', CASE WHEN granting THEN 'grant' ELSE 'revocation' END,
                          role_name, target::text);
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Referral codes: a new user (or a referrer, for their own code) redeems a
-- code typed in one of four ways (as printed, lower case, with a dash, with
-- spaces and O/I for 0/1; a vanity code in either case). Roll 1-75: a live
-- code (ok); 76-84: a generated
-- code with one character changed (22023); 85-91: an unknown code and 92-96:
-- the inactive or the expired code (both P0002: a guesser cannot tell them
-- apart); 97-100: one's own code (22023). Any of them: 23505 when the user
-- was referred already, 53400 past the limit of failed attempts.
------------------------------------------------------------------------------
CREATE FUNCTION soak.redeem(user_pick int, code_pick int, roll int, style int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    attempt text := CASE WHEN roll <= 75 THEN 'live' WHEN roll <= 84 THEN 'typo' WHEN roll <= 91 THEN 'unknown'
                      WHEN roll <= 96 THEN 'closed' ELSE 'own' END;
    c soak.codes;
    referred uuid := (SELECT id FROM soak.people WHERE kind = 'new' AND n = user_pick);
    typed text;
    expected text[];
    outcome text := 'ok';
    made iam.referrals;
    at int;
BEGIN
    IF attempt IN ('live', 'own') THEN
        SELECT * INTO STRICT c FROM soak.codes WHERE n = 1 + code_pick % 18;
    ELSIF attempt = 'typo' THEN
        SELECT * INTO STRICT c FROM soak.codes WHERE n = 1 + code_pick % 16;
    ELSIF attempt = 'closed' THEN
        SELECT * INTO STRICT c FROM soak.codes WHERE n = 19 + code_pick % 2;
    END IF;
    IF attempt = 'own' THEN
        referred := c.owner;
    END IF;
    IF attempt = 'unknown' THEN
        typed := iam.generate_referral_code();
    ELSIF attempt = 'typo' THEN
        at := 1 + code_pick % length(c.code);
        typed := overlay(c.code PLACING
                         substr(alphabet, 1 + (strpos(alphabet, substr(c.code, at, 1)) + code_pick % 31) % 32, 1)
                         FROM at FOR 1);
    ELSIF c.kind = 'vanity' THEN
        typed := CASE style WHEN 0 THEN c.code WHEN 1 THEN lower(c.code) ELSE '  ' || lower(c.code) || ' ' END;
    ELSE
        typed := CASE style WHEN 0 THEN c.code WHEN 1 THEN lower(c.code)
                            WHEN 2 THEN lower(substr(c.code, 1, 4) || '-' || substr(c.code, 5))
                            ELSE ' ' || translate(c.code, '01', 'OI') || ' ' END;
    END IF;
    -- A user referred already gets 23505 before any code is looked up, and a
    -- user past iam.referral_failures_allowed gets 53400, whatever they type.
    expected := CASE attempt WHEN 'live' THEN ARRAY['ok'] WHEN 'unknown' THEN ARRAY['P0002']
                          WHEN 'closed' THEN ARRAY['P0002'] ELSE ARRAY['22023'] END
                || ARRAY['23505', '53400'];
    PERFORM soak.act_as(referred);
    BEGIN
        made := iam.redeem_referral_code(typed);
    EXCEPTION WHEN unique_violation OR invalid_parameter_value OR no_data_found
                   OR configuration_limit_exceeded THEN
        outcome := SQLSTATE;
    END;
    IF NOT outcome = ANY (expected) THEN
        PERFORM soak.fail('redeeming %s code %s (typed %s) for %s: %s, expected %s', attempt,
                          coalesce(c.code, '-'), typed, referred::text, outcome, expected::text);
    END IF;
    IF outcome = 'ok' AND (made.referred_user_id IS DISTINCT FROM referred
                           OR made.referrer_user_id IS DISTINCT FROM c.owner
                           OR made.status IS DISTINCT FROM 'pending') THEN
        PERFORM soak.fail('redeeming %s for %s made referral %s', c.code, referred::text, made::text);
    END IF;
    IF outcome = '23505' AND NOT EXISTS (SELECT FROM iam.referrals WHERE referred_user_id = referred) THEN
        PERFORM soak.fail('redemption for %s refused as a duplicate, but nobody referred them', referred::text);
    END IF;
    INSERT INTO soak.redemptions (referred, code_n, kind, typed, outcome)
    VALUES (referred, c.n, attempt, typed, outcome);
END
$$;

------------------------------------------------------------------------------
-- The operator rotates the pepper now and then (roll 1 of 100): new keys use
-- the new version, existing keys keep verifying. Two at once: one wins, the
-- other gets 23505. Roll 2: a rotation rolled back to a savepoint, then a key
-- made in the same transaction, which must verify in every backend (the
-- rolled-back version must not linger in this backend's memory).
------------------------------------------------------------------------------
CREATE FUNCTION soak.rotate_pepper(roll int, maker int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF roll = 1 THEN
        BEGIN
            INSERT INTO soak.pepper_rotations VALUES (iam.rotate_api_key_pepper(), 'ok');
        EXCEPTION WHEN unique_violation THEN
            INSERT INTO soak.pepper_rotations VALUES (NULL, SQLSTATE);
        END;
    ELSIF roll = 2 THEN
        BEGIN
            PERFORM iam.rotate_api_key_pepper();
            RAISE EXCEPTION 'roll the rotation back' USING ERRCODE = 'SOAK1';
        EXCEPTION WHEN SQLSTATE 'SOAK1' OR unique_violation THEN
        END;
        PERFORM soak.create_key(maker);
        INSERT INTO soak.pepper_rotations VALUES (NULL, 'rolled back');
    END IF;
END
$$;

-- A first hundred keys, so that the key workloads have keys from the start.
SELECT count(*) AS seeded FROM generate_series(1, 100) AS n, LATERAL soak.create_key(1 + n % 42) \gset
ANALYZE;
