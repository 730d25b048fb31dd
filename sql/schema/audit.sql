-- The audit trail: who changed which role grant, membership, role of the
-- catalogue, API key or invitation, and when (C++: src/pg/rules/audit.cpp).
-- Every audited table's trigger is here.

-- The audit trail (src/pg/rules/audit.cpp)
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.audit_change() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_audit_change';
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles, company_users, roles, api_keys and company_invitations: writes iam.audit_log as the table''s owner';
REVOKE EXECUTE ON FUNCTION iam.audit_change() FROM PUBLIC;
CREATE OR REPLACE TRIGGER user_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.user_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_users_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER api_keys_audit
    AFTER INSERT OR DELETE OR UPDATE OF user_id, company_id, name, key_prefix, hashed_key, permissions,
        expires_at, is_active, refill_amount, refill_interval, rate_limit, rate_limit_window ON iam.api_keys
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_invitations_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_invitations
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
