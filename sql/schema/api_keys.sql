-- API keys: the peppers' rotation, verification, creation, rotation and
-- revocation, the PostgREST pre-request function and the permissions of the
-- request's key (C++: src/pg/api_keys/: verification.cpp, issuing.cpp,
-- permissions.cpp, peppers.cpp, request.cpp), and
-- the rules every write to iam.api_keys is held to (src/pg/rules/api_key_rules.cpp).

CREATE OR REPLACE FUNCTION iam.rotate_api_key_pepper() RETURNS integer
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'iam_rotate_api_key_pepper';
COMMENT ON FUNCTION iam.rotate_api_key_pepper() IS
    'Generates a new pepper version for new keys (existing keys keep verifying); returns the version. Operator only';
REVOKE EXECUTE ON FUNCTION iam.rotate_api_key_pepper() FROM PUBLIC;

-- Verification: for a login path, so a bad credential is never an error and
-- never says why. VOLATILE because it may update last_used_at (at most once
-- per iam.last_used_interval, never in a read-only transaction or on a
-- standby). Runs as the caller: the C code reads the key's row whatever the
-- caller may select, for this answer only.
CREATE OR REPLACE FUNCTION iam.verify_api_key(api_key text)
    RETURNS TABLE (key_id uuid, user_id uuid, company_id uuid, permissions jsonb, expires_at timestamptz)
    LANGUAGE c VOLATILE PARALLEL RESTRICTED ROWS 1
    AS 'MODULE_PATHNAME', 'iam_verify_api_key';
COMMENT ON FUNCTION iam.verify_api_key(text) IS
    'One row for a valid key; no row for NULL, malformed, bad checksum, unknown, wrong secret, revoked, expired, or a suspended or deleted company''s key';

CREATE OR REPLACE FUNCTION iam.api_key_has_permission(api_key text, permission text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_api_key_has_permission';
COMMENT ON FUNCTION iam.api_key_has_permission(text, text) IS
    'Whether the key is valid and its permissions cover the permission ("*" and "resource:*" wildcards); false otherwise';

-- Creation and rotation insert and update as the caller: the RLS policies of
-- iam.api_keys decide for whom a caller may make or rotate a key.
CREATE OR REPLACE FUNCTION iam.create_api_key(name text, user_id uuid DEFAULT NULL, company_id uuid DEFAULT NULL,
                                   permissions jsonb DEFAULT '[]', expires_at timestamptz DEFAULT NULL)
    RETURNS TABLE (id uuid, api_key text, key_prefix text)
    LANGUAGE c VOLATILE ROWS 1
    AS 'MODULE_PATHNAME', 'iam_create_api_key';
COMMENT ON FUNCTION iam.create_api_key(text, uuid, uuid, jsonb, timestamptz) IS
    'Creates a key for the current user, or for a company one administers; the plaintext key is in the result only, never stored';

CREATE OR REPLACE FUNCTION iam.rotate_api_key(key_id uuid, grace interval DEFAULT '0')
    RETURNS TABLE (id uuid, api_key text, key_prefix text)
    LANGUAGE c VOLATILE ROWS 1
    AS 'MODULE_PATHNAME', 'iam_rotate_api_key';
COMMENT ON FUNCTION iam.rotate_api_key(uuid, interval) IS
    'A new secret for an active key, same name, owner, permissions and expiry, for the key''s user (a company key: its admins) only. Without grace the old secret stops at once (same key id); with grace (up to 90 days) a new key replaces it (replaces_key_id) and the old one verifies until the grace ends, never past its expiry';

CREATE OR REPLACE FUNCTION iam.revoke_api_key(key_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iam.api_keys AS k SET is_active = false WHERE k.id = revoke_api_key.key_id AND k.is_active;
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed = 0 AND NOT EXISTS (SELECT FROM iam.api_keys AS k WHERE k.id = revoke_api_key.key_id) THEN
        PERFORM iam.raise_not_found('no API key with this id that you may revoke');
    END IF;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.revoke_api_key(uuid) IS
    'Revokes the key (is_active = false); true if it was active, false if already revoked; P0002 if the caller cannot see it';

------------------------------------------------------------------------------
-- Usage: credits spent by the requests a key makes, and a rate limit on
-- them (C++: src/pg/api_keys/key_usage.cpp, rate_limits.cpp). iam.authenticate_request
-- charges each request one credit and one slot of the rate limit;
-- consume_api_key charges a call any cost. Only the service role, a
-- platform_admin or the operator give a key credits or a limit; its owner
-- may only lower them (src/pg/rules/api_key_rules.cpp).
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.consume_api_key(api_key text, cost integer DEFAULT 1) RETURNS integer
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'iam_consume_api_key';
COMMENT ON FUNCTION iam.consume_api_key(text, integer) IS
    'Verifies the key, counts the call against its rate limit and spends cost credits in this transaction; returns the credits left (NULL: unlimited). 28000 for a bad key, 53400 over the limit or without enough credits';

CREATE OR REPLACE FUNCTION iam.api_key_credits_remaining() RETURNS integer
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_api_key_credits_remaining';
COMMENT ON FUNCTION iam.api_key_credits_remaining() IS
    'The credits the request''s API key has left after iam.authenticate_request charged it; NULL without a key or for unlimited';

CREATE OR REPLACE FUNCTION iam.set_api_key_credits(key_id uuid, remaining integer, refill_amount integer DEFAULT NULL,
                                        refill_interval interval DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    ELSIF remaining < 0 THEN
        RAISE EXCEPTION 'remaining must not be negative' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'NULL gives the key unlimited use.';
    ELSIF (refill_amount IS NULL) <> (refill_interval IS NULL) THEN
        RAISE EXCEPTION 'a refill needs both refill_amount and refill_interval'
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF refill_amount IS NOT NULL AND (remaining IS NULL OR refill_amount <= 0 OR refill_interval <= interval '0') THEN
        RAISE EXCEPTION 'a refill is a positive amount every positive interval, of a key with credits'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example iam.set_api_key_credits(key_id, 1000, 1000, ''1 month'').';
    END IF;
    UPDATE iam.api_keys AS k
    SET remaining = set_api_key_credits.remaining, refill_amount = set_api_key_credits.refill_amount,
        refill_interval = set_api_key_credits.refill_interval, refilled_at = now()
    WHERE k.id = set_api_key_credits.key_id;
    IF NOT FOUND THEN
        PERFORM iam.raise_not_found('no API key with this id that you may change');
    END IF;
END
$$;
COMMENT ON FUNCTION iam.set_api_key_credits(uuid, integer, integer, interval) IS
    'Sets the credits a key has left (NULL: unlimited) and its refill, counted from now; raising them is for the service role, a platform_admin or the operator';

CREATE OR REPLACE FUNCTION iam.set_api_key_rate_limit(key_id uuid, requests integer, per interval DEFAULT '1 minute')
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    ELSIF requests <= 0 OR (requests IS NOT NULL AND (per IS NULL OR per < interval '1 second'
                                                      OR per > interval '1 day')) THEN
        RAISE EXCEPTION 'a rate limit is a positive number of requests per 1 second to 1 day'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'NULL requests removes the limit.';
    END IF;
    UPDATE iam.api_keys AS k
    SET rate_limit = requests, rate_limit_window = CASE WHEN requests IS NULL THEN NULL ELSE per END
    WHERE k.id = set_api_key_rate_limit.key_id;
    IF NOT FOUND THEN
        PERFORM iam.raise_not_found('no API key with this id that you may change');
    END IF;
END
$$;
COMMENT ON FUNCTION iam.set_api_key_rate_limit(uuid, integer, interval) IS
    'Limits the requests a key makes per window (1 second to 1 day; NULL requests: no limit); needs iam_ext in shared_preload_libraries; for the service role, a platform_admin or the operator';

------------------------------------------------------------------------------
-- A leaked key's kill switch: whoever holds a key may revoke it, anon
-- included (a secret scanner, a finder). It runs as the caller, who may see
-- no key: presenting the secret (iam.present_api_key) admits that key's row,
-- and only it, to the policies of api_keys. A report revokes the row whose
-- hash the key matches, whatever its state: a key reported while it does not
-- verify (its company suspended, its user banned, expired) stays revoked
-- when its company or user is restored, and revocation is final. The answer
-- is true when a key has this secret (it is revoked now), false when none
-- has: only a holder of the whole secret learns it, which verify_api_key
-- tells them too for a live key.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.present_api_key(api_key text) RETURNS void
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_present_api_key';
COMMENT ON FUNCTION iam.present_api_key(text) IS
    'Records, for the rest of the transaction, the key whose secret this is, whatever its state; nothing for any other text. The policies let its holder revoke it';

CREATE OR REPLACE FUNCTION iam.presented_api_key_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_presented_api_key_id';
COMMENT ON FUNCTION iam.presented_api_key_id() IS
    'The id of the key whose secret this transaction presented (iam.present_api_key); NULL if none';

CREATE OR REPLACE FUNCTION iam.is_presented_api_key(hashed_key text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_is_presented_api_key';
COMMENT ON FUNCTION iam.is_presented_api_key(text) IS
    'Whether a stored hashed_key is that of the key this transaction presented (the policies of api_keys ask it)';

-- While a key is presented, its row changes only by its revocation: whoever
-- holds a stranger's secret revokes the key, and may not rename, narrow or
-- re-date it on the way (its owner and its admins do that in a transaction
-- that presents no secret). Named to run before api_keys_guard, on the row
-- as the caller wrote it.
CREATE OR REPLACE FUNCTION iam.freeze_presented_api_key() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.id = iam.presented_api_key_id() AND NOT iam.is_spending_credits()
       AND (to_jsonb(NEW) - 'is_active') IS DISTINCT FROM (to_jsonb(OLD) - 'is_active') THEN
        RAISE EXCEPTION 'a key presented as leaked may only be revoked'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change the key in a transaction that does not present its secret.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.freeze_presented_api_key() IS
    'BEFORE UPDATE row trigger of api_keys: the key this transaction presented changes only in is_active';
REVOKE EXECUTE ON FUNCTION iam.freeze_presented_api_key() FROM PUBLIC;
CREATE OR REPLACE TRIGGER api_keys_freeze_presented BEFORE UPDATE ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.freeze_presented_api_key();

-- Runs as the caller: presenting the secret is what admits the key's row to
-- the policy api_keys_report, for anyone, anon included.
CREATE OR REPLACE FUNCTION iam.report_leaked_api_key(api_key text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF api_key IS NULL OR length(api_key) <> 51 OR api_key !~ '^iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$' THEN
        RAISE EXCEPTION 'this is not an iam_ext API key'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An iam_ext API key matches iam_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}.';
    END IF;
    PERFORM iam.present_api_key(api_key);
    IF iam.presented_api_key_id() IS NULL THEN
        RETURN false;
    END IF;
    IF row_security_active('iam.api_keys') THEN
        -- No WHERE: the policies admit the presented key alone, while active
        -- (a WHERE would need anon to read the table).
        UPDATE iam.api_keys SET is_active = false;
    ELSE
        -- The service role and the operator bypass RLS: they say which key.
        UPDATE iam.api_keys AS k SET is_active = false
        WHERE k.id = iam.presented_api_key_id() AND k.is_active AND iam.is_presented_api_key(k.hashed_key);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION iam.report_leaked_api_key(text) IS
    'Revokes for good the key it is given, whatever its state, for anyone who holds it (anon included); audited with the reporter''s role; true if a key has this secret (now revoked), false if none has. Runs as the caller: a request authenticated by an API key needs iam:api_keys:write';

------------------------------------------------------------------------------
-- The owner's view of their keys' life cycle, under RLS: the active keys the
-- caller may see that expire soon, and those nobody has used for a while.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.expiring_api_keys(within interval DEFAULT '30 days')
    RETURNS TABLE (id uuid, name varchar, key_prefix varchar, user_id uuid, company_id uuid,
                   expires_at timestamptz, last_used_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT k.id, k.name, k.key_prefix, k.user_id, k.company_id, k.expires_at, k.last_used_at
    FROM iam.api_keys AS k
    WHERE k.is_active AND k.expires_at > now() AND k.expires_at - now() <= within
    ORDER BY k.expires_at, k.id
$$;
COMMENT ON FUNCTION iam.expiring_api_keys(interval) IS
    'The active keys the caller may see (RLS) that expire within the interval (default 30 days), soonest first';

CREATE OR REPLACE FUNCTION iam.unused_api_keys(for_at_least interval DEFAULT '90 days')
    RETURNS TABLE (id uuid, name varchar, key_prefix varchar, user_id uuid, company_id uuid,
                   created_at timestamptz, last_used_at timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT k.id, k.name, k.key_prefix, k.user_id, k.company_id, k.created_at, k.last_used_at
    FROM iam.api_keys AS k
    WHERE k.is_active AND now() - coalesce(k.last_used_at, k.created_at) >= for_at_least
    ORDER BY coalesce(k.last_used_at, k.created_at), k.id
$$;
COMMENT ON FUNCTION iam.unused_api_keys(interval) IS
    'The active keys the caller may see (RLS) unused for at least the interval (default 90 days; never used counts from creation), longest unused first';

------------------------------------------------------------------------------
-- The API-key context of a request (PostgREST's db-pre-request).
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.authenticate_request() RETURNS void
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'iam_authenticate_request';
COMMENT ON FUNCTION iam.authenticate_request() IS
    'db-pre-request: an API key in request.headers (x-api-key, or authorization: ApiKey <key>) makes the key''s owner the caller for this transaction; a bad key is 28000';

CREATE OR REPLACE FUNCTION iam.has_permission(permission text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_has_permission';
COMMENT ON FUNCTION iam.has_permission(text) IS
    'Whether the API key of the current request grants the permission ("*" and "resource:*" wildcards); false without one';

------------------------------------------------------------------------------
-- API keys: valid names and permissions, narrowing only, final revocation,
-- the secret for the owner only, the request key's own scope, a cap per
-- owner; created_by and suspended_until stamped on insert.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.guard_api_key() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_api_key';
COMMENT ON FUNCTION iam.guard_api_key() IS
    'BEFORE INSERT OR UPDATE trigger of api_keys: the rules of docs/security.md, "API keys", whichever way a key is written';
REVOKE EXECUTE ON FUNCTION iam.guard_api_key() FROM PUBLIC;
CREATE OR REPLACE TRIGGER api_keys_guard BEFORE INSERT OR UPDATE ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.guard_api_key();
-- Not fired for last_used_at, remaining and refilled_at, which requests
-- write.
