// The rows of the permission model (0.8.0) that iam.can() and the rules of
// who may grant what read (src/pg/tables/permission_rows.cpp): the
// catalogue, the permissions of platform and company roles, the company
// roles a member holds. Through their indexes, whatever the caller may
// select; on a schema older than 0.8.0 every reader finds nothing.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// The fixed ids of the company-role templates that role_in_company names.
extern const pg_uuid_t member_template_id;
extern const pg_uuid_t admin_template_id;

// Whether iam.permissions holds `name`.
bool permission_is_registered(const IamTables& tables, const text* name);

// Which grants of a role to look at, and what a grant must cover.
enum class RoleKind { platform, company };

// Whether the role holds a grant (a permission, `resource:*` or `*`) for
// which matches(grant, length, context) is true. Under `snapshot`, by
// default the statement's (the checks); the rules pass SnapshotSelf, which
// also sees what this very statement and what other transactions have
// committed so far.
bool role_grant_matches(const IamTables& tables, RoleKind kind, const pg_uuid_t& role_id,
                        bool (*matches)(const char* grant, int length, void* context),
                        void* context, Snapshot snapshot = nullptr);

// Calls visit(company_role_id, context) for every company role the user
// holds in the company through company_member_roles (membership aside).
void for_each_member_role(const IamTables& tables, const pg_uuid_t& user_id,
                          const pg_uuid_t& company_id,
                          void (*visit)(const pg_uuid_t& company_role_id, void* context),
                          void* context);

// The company role with this id, as the rules must see it: written by this
// statement or committed by another transaction (SnapshotSelf), so that no
// role escapes them by being created in the same statement or while the
// write runs. False if there is none; *is_template for a role of every
// company (company_id NULL), else *company_id is its company.
bool find_company_role(const IamTables& tables, const pg_uuid_t& role_id, bool* is_template,
                       pg_uuid_t* company_id);

// Whether another company role named `name` exists on the other side of the
// template line: a company's own role when `is_template`, else a template.
// Two transactions writing the same name take turns (a transaction-level
// lock on the name), and each reads what the other committed and what its
// own statement wrote (SnapshotSelf): a template and a company's role of
// one name never both commit.
bool company_role_name_clashes(const IamTables& tables, const text* name, bool is_template);

}  // namespace iam::pg
