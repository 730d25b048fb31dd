-- updated_at maintenance: companies and user_settings stamp their own
-- changes (C++: src/pg/rules/updated_at.cpp).

CREATE OR REPLACE FUNCTION iam.set_updated_at() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_set_updated_at';
COMMENT ON FUNCTION iam.set_updated_at() IS
    'BEFORE UPDATE row trigger: sets updated_at to the transaction timestamp (now())';
-- Trigger functions are not for calling: nobody but the owner executes them.
REVOKE EXECUTE ON FUNCTION iam.set_updated_at() FROM PUBLIC;

CREATE OR REPLACE TRIGGER companies_set_updated_at
    BEFORE UPDATE ON iam.companies
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION iam.set_updated_at();
CREATE OR REPLACE TRIGGER user_settings_set_updated_at
    BEFORE UPDATE ON iam.user_settings
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION iam.set_updated_at();
