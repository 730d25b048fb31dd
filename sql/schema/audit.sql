-- The audit trail: who changed which role grant, membership, role of the
-- catalogue, API key or invitation, and when (C++: src/pg/rules/audit.cpp).
-- Every audited table's trigger is here.

-- The audit trail (src/pg/rules/audit.cpp)
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.audit_change() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_audit_change';
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles, company_users, roles, api_keys, company_invitations and external_identities: writes iam.audit_log as the table''s owner';
REVOKE EXECUTE ON FUNCTION iam.audit_change() FROM PUBLIC;
CREATE OR REPLACE TRIGGER user_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.user_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_users_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
-- Every change to a key is audited, its credits and limits included, by
-- whoever and however it is made; but for the statement by which a request
-- spends credits (and refills them when a refill falls due), which is the
-- hot path and the seller's terms at work: the WHEN leaves it out before
-- any audit row is queued. last_used_at, verification's bookkeeping, is not
-- in the list.
CREATE OR REPLACE FUNCTION iam.is_spending_credits() RETURNS boolean
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'iam_is_spending_credits';
COMMENT ON FUNCTION iam.is_spending_credits() IS
    'Whether this backend is running the statement by which a request spends an API key''s credits (known from the extension''s memory, never from a setting); false anywhere else';
CREATE OR REPLACE TRIGGER api_keys_audit
    AFTER INSERT OR DELETE OR UPDATE OF user_id, company_id, name, key_prefix, hashed_key, permissions,
        expires_at, is_active, remaining, refill_amount, refill_interval, refilled_at, rate_limit,
        rate_limit_window ON iam.api_keys
    FOR EACH ROW WHEN (NOT iam.is_spending_credits()) EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_invitations_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_invitations
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
-- Who a provider's subject is decides who its tokens act as: every link,
-- unlink and change, by whoever and however, the provisioning on first sight
-- included.
CREATE OR REPLACE TRIGGER external_identities_audit AFTER INSERT OR UPDATE OR DELETE ON iam.external_identities
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
