#!/usr/bin/env bash
# pg_dump keeps every row of iam_ext's tables: fill them all with fixed rows
# (the audit log fills itself), dump the database (custom and plain formats), restore each into a
# fresh database (pg_restore --exit-on-error; psql -v ON_ERROR_STOP=1), and
# compare every row of every table with the source. The seven built-in roles
# must come back exactly once (CREATE EXTENSION makes them; the dump must not
# repeat them), and a role added by the user must come back too. The restore
# must not add audit rows of its own, and the audit log's sequence must go on
# where it stopped.
set -euo pipefail

source_db=iam_dump_source
restored_custom=iam_dump_restored_custom
restored_plain=iam_dump_restored_plain
tables="users roles user_roles companies company_users user_settings api_keys referral_codes referrals audit_log api_key_peppers"

source "$(dirname "$0")/../lib.sh"
drop_databases() {  # only if the server is still there to ask
    pg_isready -q || return 0
    local db
    for db in "$source_db" "$restored_custom" "$restored_plain"; do
        dropdb --if-exists "$db" 2>/dev/null || true
    done
}
drop_databases
dump_dir=$(mktemp -d)
trap 'rm -rf "$dump_dir"; drop_databases' EXIT

echo "filling the tables of $source_db"
createdb "$source_db"
sql -d "$source_db" <<'SQL'
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id, email, full_name, raw_app_meta_data, raw_user_meta_data) VALUES
    ('a0000000-0000-4000-8000-0000000000e1', 'pam@platform.test', 'Pam', '{"role_hint": "admin"}', '{"locale": "en"}'),
    ('a0000000-0000-4000-8000-0000000000a3', 'carol@acme.test', 'Carol', NULL, '{"locale": "fr", "tabs": [1, 2]}'),
    ('a0000000-0000-4000-8000-000000000003', NULL, 'Phone-only user', NULL, NULL);
INSERT INTO iam.roles (id, name, description, created_at)
    VALUES ('b0000000-0000-4000-8000-000000000001', 'beta_tester', 'Added by the user: must be dumped',
            '2026-01-02 03:04:05+00');
INSERT INTO iam.user_roles (user_id, role_id, created_at) VALUES
    ('a0000000-0000-4000-8000-0000000000e1', '00000000-0000-4000-8000-000000000007', '2026-01-03 00:00:00+00'),
    ('a0000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-000000000003', '2026-01-04 00:00:00+00'),
    ('a0000000-0000-4000-8000-0000000000a3', 'b0000000-0000-4000-8000-000000000001', '2026-01-05 00:00:00+00');
INSERT INTO iam.companies (id, name, current_iam_status, created_at) VALUES
    ('c0000000-0000-4000-8000-00000000000a', 'Acme', 'active', '2026-02-01 00:00:00+00'),
    ('c0000000-0000-4000-8000-00000000000b', 'Globex', 'suspended_by_admin', '2026-02-02 00:00:00+00');
-- updated_at is set by the trigger on these updates.
UPDATE iam.companies SET name = 'Acme Academy' WHERE id = 'c0000000-0000-4000-8000-00000000000a';
UPDATE iam.companies SET is_deleted = true, deleted_at = '2026-03-01 12:00:00+00'
    WHERE id = 'c0000000-0000-4000-8000-00000000000b';
INSERT INTO iam.company_users (user_id, company_id, joined_at, is_active_in_company) VALUES
    ('a0000000-0000-4000-8000-0000000000a3', 'c0000000-0000-4000-8000-00000000000a', '2026-02-10 00:00:00+00', true),
    ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-00000000000a', '2026-02-11 00:00:00+00', false);
INSERT INTO iam.user_settings (user_id, preferred_language, theme, created_at) VALUES
    ('a0000000-0000-4000-8000-0000000000e1', 'en', 'dark', '2026-01-10 00:00:00+00'),
    ('a0000000-0000-4000-8000-0000000000a3', 'fr', 'light', '2026-01-11 00:00:00+00');
UPDATE iam.user_settings SET notifications_enabled_email = false
    WHERE user_id = 'a0000000-0000-4000-8000-0000000000a3';
INSERT INTO iam.api_keys (id, user_id, company_id, name, key_prefix, hashed_key, permissions,
                          expires_at, last_used_at, created_at, is_active) VALUES
    ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-0000000000e1', NULL, 'laptop',
     'aaaa1111', 'blake2b-256$1$aGFzaC1vbmU', '["courses:read", "courses:*"]', NULL,
     '2026-04-01 08:00:00+00', '2026-03-01 00:00:00+00', true),
    ('d0000000-0000-4000-8000-000000000002', NULL, 'c0000000-0000-4000-8000-00000000000a', 'ci',
     'bbbb2222', 'blake2b-256$1$aGFzaC10d28', '["reports:*", "courses:read"]', '2030-01-01 00:00:00+00',
     NULL, '2026-03-02 00:00:00+00', false);
INSERT INTO iam.referral_codes (id, user_id, code, created_at, expires_at) VALUES
    ('e0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-0000000000e1', 'PAM-WELCOME',
     '2026-01-20 00:00:00+00', NULL);
INSERT INTO iam.referrals (id, referrer_user_id, referred_user_id, referral_code_used_id, status,
                           created_at, converted_at) VALUES
    ('f0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-0000000000e1',
     'a0000000-0000-4000-8000-0000000000a3', 'e0000000-0000-4000-8000-000000000001', 'completed_signup',
     '2026-01-21 00:00:00+00', '2026-01-22 00:00:00+00'),
    ('f0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-0000000000e1',
     'a0000000-0000-4000-8000-000000000003', 'e0000000-0000-4000-8000-000000000001', 'pending',
     '2026-01-23 00:00:00+00', NULL);
SQL

# A real key, made with the pepper the database generates: it must still
# verify after a restore (the pepper travels with the data).
live_key=$(value -d "$source_db" -c "SELECT api_key FROM iam.create_api_key('restore check', (SELECT id FROM iam.users ORDER BY id LIMIT 1))")

# The source must hold what the comparison is about, or an identical empty
# table would pass.
failures=0
for table in $tables; do
    [ "$(value -d "$source_db" -c "SELECT count(*) FROM iam.$table")" -gt 0 ] ||
        { echo "  source table iam.$table is empty"; failures=$((failures + 1)); }
done
[ "$(value -d "$source_db" -c "SELECT count(*) FROM iam.companies WHERE updated_at IS NOT NULL AND NOT is_deleted")" = 1 ] ||
    { echo "  source: no live company with updated_at set by the trigger"; failures=$((failures + 1)); }
[ "$(value -d "$source_db" -c "SELECT count(*) FROM iam.companies WHERE is_deleted")" = 1 ] ||
    { echo "  source: no soft-deleted company"; failures=$((failures + 1)); }
[ $failures -eq 0 ] || { echo "FAIL: the source database is not filled as intended"; exit 1; }

# Every row of a table, in a fixed order, as text.
table_rows() {  # DB TABLE
    value -d "$1" -c "SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM iam.$2 t"
}

compare_with_source() {  # DB: adds to $failures for every difference
    local db=$1 table expected actual
    for table in $tables; do
        expected=$(table_rows "$source_db" "$table")
        actual=$(table_rows "$db" "$table")
        if [ "$expected" = "$actual" ]; then
            printf '  %-15s %2d rows identical\n' "$table" "$(printf '%s' "$expected" | grep -c .)"
        else
            printf '  %-15s %2d rows in %s, %d in %s; they differ (< source, > restored):\n' "$table" \
                "$(printf '%s' "$expected" | grep -c .)" "$source_db" "$(printf '%s' "$actual" | grep -c .)" "$db"
            diff <(echo "$expected") <(echo "$actual") | sed 's/^/    /' || true
            failures=$((failures + 1))
        fi
    done
    # Built-in roles once each, plus the user's role: 7 + 1.
    local roles
    roles=$(value -d "$db" -c "SELECT count(*) FILTER (WHERE id::text LIKE '00000000-0000-4000-8000-00000000000_'),
                                      count(*) FILTER (WHERE name = 'beta_tester'), count(*) FROM iam.roles" -F ' ')
    if [ "$roles" = "7 1 8" ]; then
        echo "  roles: 7 built-in once each + 1 added by the user (beta_tester) = 8"
    else
        echo "  roles: expected 7 built-in, 1 beta_tester, 8 in all; found (built-in, beta_tester, all) = $roles"
        failures=$((failures + 1))
    fi
    if [ "$(value -d "$db" -c "SELECT count(*) FROM iam.verify_api_key('$live_key')")" = 1 ]; then
        echo "  api_keys: a key made before the dump verifies after the restore"
    else
        echo "  api_keys: a key made before the dump no longer verifies"
        failures=$((failures + 1))
    fi
    local next_audit source_last_audit
    source_last_audit=$(value -d "$source_db" -c "SELECT max(id) FROM iam.audit_log")
    next_audit=$(value -d "$db" -c "INSERT INTO iam.user_roles (user_id, role_id)
                                    SELECT id, '00000000-0000-4000-8000-000000000005' FROM iam.users
                                    ON CONFLICT DO NOTHING" \
                                 -c "SELECT min(id) = $source_last_audit + 1 FROM iam.audit_log WHERE id > $source_last_audit")
    if [ "$next_audit" = t ]; then
        echo "  audit_log: a grant after the restore is audited with the next id"
    else
        echo "  audit_log: a grant after the restore did not get the next audit id"
        failures=$((failures + 1))
    fi
}

echo "custom format: pg_dump -Fc, pg_restore --exit-on-error into a fresh database"
pg_dump -Fc -d "$source_db" -f "$dump_dir/iam.dump"
createdb "$restored_custom"
pg_restore --exit-on-error -d "$restored_custom" "$dump_dir/iam.dump" ||
    { echo "FAIL: pg_restore of the custom-format dump reported the error above"; exit 1; }
compare_with_source "$restored_custom"

echo "plain format: pg_dump, psql -v ON_ERROR_STOP=1 into a fresh database"
pg_dump -d "$source_db" -f "$dump_dir/iam.sql"
createdb "$restored_plain"
sql -d "$restored_plain" -f "$dump_dir/iam.sql" >/dev/null ||
    { echo "FAIL: psql restoring the plain dump reported the error above"; exit 1; }
compare_with_source "$restored_plain"

[ $failures -eq 0 ] || { echo "FAIL: $failures difference(s) after dump and restore"; exit 1; }
echo "PASS: every row of every iam table survives pg_dump and restore (custom and plain)"
