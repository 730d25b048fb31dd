#!/usr/bin/env bash
# pg_dump keeps every row of iam_ext's nine tables: fill them all, dump the
# database (custom and plain formats), restore each into a fresh database,
# and compare every row of every table. The seven built-in roles must come
# back exactly once (CREATE EXTENSION makes them; the dump must not repeat
# them), and roles added by the user must come back too.
set -euo pipefail

source_db=iam_dump_source
restored_custom=iam_dump_restored_custom
restored_plain=iam_dump_restored_plain
tables="users roles user_roles companies company_users user_settings api_keys referral_codes referrals"

sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
drop_databases() {
    for db in "$source_db" "$restored_custom" "$restored_plain"; do
        dropdb --if-exists "$db" 2>/dev/null || true
    done
}
drop_databases
dump_dir=$(mktemp -d)
trap 'rm -rf "$dump_dir"; drop_databases' EXIT

createdb "$source_db"
sql -d "$source_db" <<'SQL'
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id, email, full_name, raw_app_meta_data, raw_user_meta_data) VALUES
    ('a0000000-0000-4000-8000-000000000001', 'ada@example.com', 'Ada Lovelace', '{"role_hint": "admin"}', '{"locale": "en"}'),
    ('a0000000-0000-4000-8000-000000000002', 'grace@acme.example', 'Grace Hopper', NULL, '{"locale": "fr"}'),
    ('a0000000-0000-4000-8000-000000000003', NULL, 'Phone-only user', NULL, NULL);
INSERT INTO iam.roles (id, name, description)
    VALUES ('b0000000-0000-4000-8000-000000000001', 'beta_tester', 'Added by the user: must be dumped');
INSERT INTO iam.user_roles (user_id, role_id) VALUES
    ('a0000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000007'),
    ('a0000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'),
    ('a0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000001');
INSERT INTO iam.companies (id, name, current_iam_status) VALUES
    ('c0000000-0000-4000-8000-000000000001', 'Acme Learning', 'active'),
    ('c0000000-0000-4000-8000-000000000002', 'Globex Training', 'suspended_by_admin');
UPDATE iam.companies SET name = 'Acme Academy' WHERE id = 'c0000000-0000-4000-8000-000000000001';
UPDATE iam.companies SET is_deleted = true, deleted_at = now() WHERE id = 'c0000000-0000-4000-8000-000000000002';
INSERT INTO iam.company_users (user_id, company_id, is_active_in_company) VALUES
    ('a0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000001', true),
    ('a0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-000000000001', false);
INSERT INTO iam.user_settings (user_id, preferred_language, theme) VALUES
    ('a0000000-0000-4000-8000-000000000001', 'en', 'dark'),
    ('a0000000-0000-4000-8000-000000000002', 'fr', 'light');
UPDATE iam.user_settings SET notifications_enabled_email = false
    WHERE user_id = 'a0000000-0000-4000-8000-000000000002';
INSERT INTO iam.api_keys (id, user_id, company_id, name, key_prefix, hashed_key, permissions, expires_at, is_active) VALUES
    ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', NULL, 'laptop',
     'aaaa1111', 'blake2b-256$1$aGFzaC1vbmU', '["courses:read", "courses:*"]', NULL, true),
    ('d0000000-0000-4000-8000-000000000002', NULL, 'c0000000-0000-4000-8000-000000000001', 'ci',
     'bbbb2222', 'blake2b-256$1$aGFzaC10d28', '["*"]', '2030-01-01 00:00:00+00', false);
INSERT INTO iam.referral_codes (id, user_id, code, expires_at) VALUES
    ('e0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'ADA-WELCOME', NULL);
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id, status, converted_at) VALUES
    ('a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000002',
     'e0000000-0000-4000-8000-000000000001', 'completed_signup', now()),
    ('a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000003',
     'e0000000-0000-4000-8000-000000000001', 'pending', NULL);
SQL

# Every row of a table, in a fixed order, as text.
table_rows() {  # DB TABLE
    sql -d "$1" -tA -c "SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM iam.$2 t"
}

compare_with_source() {  # DB: fails on the first table that differs
    local db=$1 table failures=0
    for table in $tables; do
        local expected actual
        expected=$(table_rows "$source_db" "$table")
        actual=$(table_rows "$db" "$table")
        if [ "$expected" = "$actual" ]; then
            printf '  %-15s %2d rows identical\n' "$table" "$(printf '%s' "$expected" | grep -c .)"
        else
            echo "  $table differs between $source_db and $db:"
            diff <(echo "$expected") <(echo "$actual") | sed 's/^/    /' || true
            failures=$((failures + 1))
        fi
    done
    local built_in
    built_in=$(sql -d "$db" -tA -c \
        "SELECT count(*) FROM iam.roles WHERE id::text LIKE '00000000-0000-4000-8000-00000000000_'")
    if [ "$built_in" != 7 ]; then
        echo "  expected the 7 built-in roles once, found $built_in"
        failures=$((failures + 1))
    fi
    return $failures
}

echo "custom format: pg_dump -Fc, pg_restore into a fresh database"
pg_dump -Fc -d "$source_db" -f "$dump_dir/iam.dump"
createdb "$restored_custom"
pg_restore --exit-on-error -d "$restored_custom" "$dump_dir/iam.dump"
compare_with_source "$restored_custom"

echo "plain format: pg_dump, psql into a fresh database"
pg_dump -d "$source_db" -f "$dump_dir/iam.sql"
createdb "$restored_plain"
sql -d "$restored_plain" -f "$dump_dir/iam.sql" >/dev/null
compare_with_source "$restored_plain"

echo "PASS: every row of the nine tables survives pg_dump and restore (custom and plain)"
