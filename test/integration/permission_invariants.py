#!/usr/bin/env python3
"""The permission invariant suite's driver (run by permission_invariants.sh).

From a seed, it picks random actors, paths, isolation levels and writes to
the permission model (the functions and plain SQL on every table), the
escalation attempts included, runs them in batches of a few concurrent psql
sessions, then asks iam.can() as every identity and checks every invariant
of permission_invariants_checks.sql as the superuser. Standard library and
psql only.

Environment: PGHOST, PGPORT, PGPASSWORD (as for psql), IAM_DB, IAM_OWNER,
IAM_PERMISSION_SEED (replays a run), IAM_PERMISSION_OPS (operations in all),
IAM_PERMISSION_LOGS (a folder for the sessions' output).
"""
import json
import sys

from invariant_driver import COMPANIES, ISOLATIONS, PEOPLE, C, Driver, lit

driver = Driver("permission_invariants", "pinv", "IAM_PERMISSION", default_ops=600, per_session=10,
                op_columns="id, batch, session, actor, actor_id, key_id, db_role, privileged, path, isolation, kind, body",
                seed_in_errors=True, violation_chars=600, no_operation="(no operation)")
rng, psql, rows = driver.rng, driver.psql, driver.rows
OWNER, SUPERUSER, op_rows = driver.owner, driver.superuser, driver.op_rows

NAME_OF = {v: k for k, v in PEOPLE.items()}
UNKNOWN_COMPANY = C + "ff"
MEMBER, ADMIN = "00000000-0000-4000-8000-000000000101", "00000000-0000-4000-8000-000000000102"
PLATFORM_ROLES = ["solo_learner", "enterprise_employee", "enterprise_admin", "course_creator", "consultant",
                  "support_agent", "platform_admin"]
# Company roles by name: the templates, the companies' own, and names the
# operations create as they go.
ROLE_NAMES = ["member", "admin", "instructor", "learner", "coordinator", "grader", "auditor", "r1", "r2", "r3"]
GRANTS = ["*", "courses:*", "courses:read", "courses:edit", "reports:view", "iam:roles:manage", "iam:*",
          "x:1", "x:*", "nope:unregistered"]
NEW_PERMISSIONS = ["x:1", "x:2", "reports:export", "bad name", "x:*", ""]
SCOPES = ['[]', '["*"]', '["courses:read"]', '["courses:*", "iam:company_member_roles:write"]',
          '["iam:*", "courses:read"]', '["iam:company_role_permissions:write", "courses:edit"]']


class State:
    """What the generator picks from, read before each batch."""

    def refresh(self):
        self.keys = [dict(zip(["name", "key_id", "secret", "user_id", "company_id"], r)) for r in rows(
            "SELECT s.name, s.key_id, s.secret, coalesce(k.user_id::text, ''), coalesce(k.company_id::text, '') "
            "FROM pinv.secrets AS s JOIN iam.api_keys AS k ON k.id = s.key_id ORDER BY s.name")]
        self.permissions = [r[0] for r in rows("SELECT name FROM iam.permissions ORDER BY name")]
        self.members = rows("SELECT user_id, company_id FROM iam.company_users ORDER BY 1, 2")


state = State()


def identity_lines(db_role, actor_id, key, path):
    """The statements that make a transaction act as someone, as PostgREST
    does (rest) or as a plain SQL client would."""
    if db_role == "operator":
        return []
    if db_role == "authenticated":
        claims = json.dumps({"aud": "authenticated", "role": "authenticated", "sub": actor_id})
    elif db_role == "service_role":
        claims = json.dumps({"role": "service_role"})
    else:
        claims = ""
    headers = json.dumps({"x-api-key": key["secret"]}) if key else "{}"
    lines = [f"SELECT set_config('role', {lit(db_role)}, true), set_config('request.jwt.claims', {lit(claims)}, true), "
             f"set_config('request.headers', {lit(headers)}, true) \\g /dev/null"]
    if path == "rest" or key is not None:
        lines.append("SELECT iam.authenticate_request() \\g /dev/null")
    if path == "sql+row_security=off":
        lines.append("SET LOCAL row_security = off;")
    return lines


def wrap(op, batch, session, actor, body, kind, path=None, isolation=None, key=None):
    """The transaction of one operation: who acts, what they held just
    before, the write in a savepoint (rolled back if refused, the model's
    fingerprint taken on either side), and the bookkeeping that commits."""
    if actor == "operator":
        db_role, actor_id = "operator", None
    elif key is not None:
        db_role, actor_id = "anon", key["user_id"] or None
    elif actor == "anon":
        db_role, actor_id = "anon", None
    elif actor == "service":
        db_role, actor_id = "service_role", None
    else:
        db_role, actor_id = "authenticated", PEOPLE[actor]
    if path is None:
        if key is not None:
            path = "rest"
        elif db_role == "operator":
            path = "sql"
        else:
            path = rng.choice(["rest", "sql", "sql", "sql+row_security=off", "definer", "definer"])
    if isolation is None:
        isolation = rng.choice(ISOLATIONS)
    privileged = key is None and db_role in ("operator", "service_role")
    if path == "definer":
        # the same statement, run by a SECURITY DEFINER function that the
        # tables' owner wrote, called by the caller
        body = f"SELECT pinv.as_owner({lit(body)})"
    lines = [f"BEGIN ISOLATION LEVEL {isolation};",
             f"SELECT set_config('pinv.op', '{op}', true) \\g /dev/null"]
    lines += identity_lines(db_role, actor_id, key, path)
    lines.append(f"SELECT pinv.record_held({op}, {lit(actor_id)}, {lit(key['key_id'] if key else None)}), "
                 f"pinv.fingerprint() AS before_fp \\gset")
    # refused at the door (a key that no longer stands): nothing was written
    lines.append("\\if :ERROR")
    lines.append(f"ROLLBACK;\nINSERT INTO pinv.refused VALUES ({op}, NULL, NULL);")
    lines.append("\\else")
    lines.append("SAVEPOINT write;")
    lines.append(body + ";")
    lines.append("\\if :ERROR")
    lines.append("ROLLBACK TO SAVEPOINT write;")
    lines.append(f"INSERT INTO pinv.refused VALUES ({op}, :'before_fp', pinv.fingerprint());")
    lines.append("\\else")
    lines.append(f"INSERT INTO pinv.done VALUES ({op});")
    lines.append("\\endif")
    lines.append("COMMIT;")
    lines.append("\\endif")
    # a serialization failure at commit, or after the write: the whole
    # operation was refused
    lines.append(f"SELECT NOT EXISTS (SELECT FROM pinv.done WHERE op = {op}) "
                 f"AND NOT EXISTS (SELECT FROM pinv.refused WHERE op = {op}) AS lost \\gset")
    lines.append("\\if :lost")
    lines.append(f"INSERT INTO pinv.refused VALUES ({op}, 'rolled back', 'rolled back');")
    lines.append("\\endif")
    name = actor if key is None else f"key:{key['name']}"
    op_rows.append((op, batch, session, name, actor_id, key["key_id"] if key else None, db_role, privileged, path,
                    isolation, kind, body))
    return "\n".join(lines) + "\n"


def company():
    return rng.choice(list(COMPANIES.values()) + [COMPANIES["Acme"]])


def person():
    return rng.choice(list(PEOPLE))


def role_ref(name, where_company=None):
    """A company role's id by name: the company's own or a template (or, for
    cross-company attempts, another company's)."""
    if where_company is None:
        return f"(SELECT id FROM iam.company_roles WHERE name = {lit(name)} ORDER BY company_id NULLS FIRST LIMIT 1)"
    return (f"(SELECT id FROM iam.company_roles WHERE name = {lit(name)} "
            f"AND (company_id = {lit(where_company)} OR company_id IS NULL) LIMIT 1)")


def named(name, table="company_roles"):
    """The ids of the roles of that name, company roles or platform roles
    (table roles), as a subquery."""
    return f"(SELECT id FROM iam.{table} WHERE name = {lit(name)})"


def generate():
    """(kind, actor, body, key): one random write to the permission model."""
    kinds = ["assign_fn", "assign_fn", "remove_fn", "cmr_insert", "cmr_insert", "cmr_cross", "cmr_self",
             "cmr_delete", "cmr_update", "role_insert", "role_rename", "role_move", "role_delete",
             "grant_insert", "grant_insert", "grant_insert", "grant_delete", "grant_update",
             "platform_grant_insert", "platform_grant_delete", "grant_role", "revoke_role", "user_role_insert",
             "permission_insert", "permission_delete", "permission_rename", "narrow_admin", "widen_admin",
             "set_company_role", "member_active", "company_status", "key_scope", "key_active"]
    kind = rng.choice(kinds)
    c, u, role = company(), PEOPLE[person()], rng.choice(ROLE_NAMES)
    grant = rng.choice(GRANTS)
    actor = rng.choice(list(PEOPLE) + ["Alice", "Carol", "Carol", "Olga", "anon", "service", "operator"])
    if kind == "assign_fn":
        body = f"SELECT iam.assign_company_role({lit(c)}, {lit(u)}, {lit(role)})"
    elif kind == "remove_fn":
        body = f"SELECT iam.remove_company_role({lit(c)}, {lit(u)}, {lit(role)})"
    elif kind == "cmr_insert":
        body = (f"INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id) "
                f"SELECT {lit(u)}, {lit(c)}, {role_ref(role, c)}")
    elif kind == "cmr_cross":
        # a role of another company assigned here
        other = rng.choice([x for x in COMPANIES.values() if x != c])
        body = (f"INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id) "
                f"SELECT {lit(u)}, {lit(c)}, id FROM iam.company_roles WHERE company_id = {lit(other)} LIMIT 1")
    elif kind == "cmr_self":
        # a member assigning themselves a role
        actor = rng.choice(["Alice", "Vera", "Carol", "Olga", "Nina"])
        body = f"SELECT iam.assign_company_role({lit(c)}, {lit(PEOPLE[actor])}, {lit(role)})"
    elif kind == "cmr_delete":
        body = f"DELETE FROM iam.company_member_roles WHERE user_id = {lit(u)} AND company_id = {lit(c)}"
    elif kind == "cmr_update":
        body = (f"UPDATE iam.company_member_roles SET company_role_id = {role_ref(role)} "
                f"WHERE user_id = {lit(u)} AND company_id = {lit(c)}")
    elif kind == "role_insert":
        body = (f"INSERT INTO iam.company_roles (company_id, name) "
                f"VALUES ({lit(rng.choice([c, None]))}, {lit(role)})")
    elif kind == "role_rename":
        body = (f"UPDATE iam.company_roles SET name = {lit(rng.choice(ROLE_NAMES))} "
                f"WHERE name = {lit(role)}")
    elif kind == "role_move":
        # a role moved into another company, or made a template, or a template made a company's
        body = f"UPDATE iam.company_roles SET company_id = {lit(rng.choice([c, None]))} WHERE name = {lit(role)}"
    elif kind == "role_delete":
        body = f"DELETE FROM iam.company_roles WHERE name = {lit(role)}"
    elif kind == "grant_insert":
        # a custom role smuggling '*' among them
        body = (f"INSERT INTO iam.company_role_permissions (company_role_id, permission) "
                f"SELECT id, {lit(grant)} FROM iam.company_roles WHERE name = {lit(role)}")
    elif kind == "grant_delete":
        body = (f"DELETE FROM iam.company_role_permissions WHERE permission = {lit(grant)} "
                f"AND company_role_id IN {named(role)}")
    elif kind == "grant_update":
        change = (f"permission = {lit(grant)}" if rng.random() < 0.5
                  else f"company_role_id = {role_ref(rng.choice(ROLE_NAMES))}")
        body = f"UPDATE iam.company_role_permissions SET {change} WHERE company_role_id IN {named(role)}"
    elif kind == "platform_grant_insert":
        body = (f"INSERT INTO iam.role_permissions (role_id, permission) "
                f"SELECT id, {lit(grant)} FROM iam.roles WHERE name = {lit(rng.choice(PLATFORM_ROLES))}")
    elif kind == "platform_grant_delete":
        body = (f"DELETE FROM iam.role_permissions WHERE permission = {lit(grant)} "
                f"AND role_id IN {named(rng.choice(PLATFORM_ROLES[:-1]), 'roles')}")
    elif kind == "grant_role":
        body = f"SELECT iam.grant_role({lit(u)}, {lit(rng.choice(PLATFORM_ROLES))})"
    elif kind == "revoke_role":
        body = f"SELECT iam.revoke_role({lit(u)}, {lit(rng.choice(PLATFORM_ROLES[:-1]))})"
    elif kind == "user_role_insert":
        body = (f"INSERT INTO iam.user_roles (user_id, role_id) SELECT {lit(u)}, id FROM iam.roles "
                f"WHERE name = {lit(rng.choice(PLATFORM_ROLES))}")
    elif kind == "permission_insert":
        body = f"INSERT INTO iam.permissions (name) VALUES ({lit(rng.choice(NEW_PERMISSIONS))})"
    elif kind == "permission_delete":
        body = f"DELETE FROM iam.permissions WHERE name = {lit(rng.choice(NEW_PERMISSIONS + ['reports:view']))}"
    elif kind == "permission_rename":
        body = (f"UPDATE iam.permissions SET name = {lit(rng.choice(NEW_PERMISSIONS))} "
                f"WHERE name = {lit(rng.choice(['x:1', 'x:2', 'reports:view']))}")
    elif kind == "narrow_admin":
        # the platform narrows the admin template: admins hold less than '*'
        actor = rng.choice(["Pam", "Pam", "service", "Carol"])
        body = (f"DELETE FROM iam.company_role_permissions WHERE company_role_id = {lit(ADMIN)} "
                f"AND permission = {lit(rng.choice(['*', '*', 'courses:*']))}")
    elif kind == "widen_admin":
        actor = rng.choice(["Pam", "Pam", "service", "Carol", "Olga"])
        body = (f"INSERT INTO iam.company_role_permissions (company_role_id, permission) "
                f"VALUES ({lit(rng.choice([ADMIN, MEMBER]))}, {lit(rng.choice(['*', 'iam:roles:manage', 'courses:*', 'courses:read']))})")
    elif kind == "set_company_role":
        if rng.random() < 0.5:
            body = f"SELECT iam.set_company_role({lit(c)}, {lit(u)}, {lit(rng.choice(['member', 'admin']))})"
        else:
            body = (f"UPDATE iam.company_users SET role_in_company = {lit(rng.choice(['member', 'admin']))} "
                    f"WHERE company_id = {lit(c)} AND user_id = {lit(u)}")
    elif kind == "member_active":
        if rng.random() < 0.5:
            body = f"SELECT iam.add_company_member({lit(c)}, {lit(u)})"
        else:
            body = (f"UPDATE iam.company_users SET is_active_in_company = {rng.choice(['true', 'false'])} "
                    f"WHERE company_id = {lit(c)} AND user_id = {lit(u)}")
    elif kind == "company_status":
        status = rng.choice(["active", "active", "suspended_by_admin"])
        actor = rng.choice(["Pam", "service", "operator", "Carol", "Olga"])
        if rng.random() < 0.5:
            body = f"SELECT iam.set_company_status({lit(c)}, {lit(status)})"
        else:
            body = f"UPDATE iam.companies SET current_iam_status = {lit(status)} WHERE id = {lit(c)}"
    elif kind == "key_scope":
        k = rng.choice(state.keys)
        actor = NAME_OF.get(k["user_id"], rng.choice(["Carol", "Olga", "service"]))
        body = f"UPDATE iam.api_keys SET permissions = {lit(rng.choice(SCOPES))} WHERE id = {lit(k['key_id'])}"
    else:  # key_active
        k = rng.choice(state.keys)
        actor = NAME_OF.get(k["user_id"], rng.choice(["Carol", "Olga", "service"]))
        body = f"UPDATE iam.api_keys SET is_active = {rng.choice(['true', 'false'])} WHERE id = {lit(k['key_id'])}"
    key = None
    if actor in PEOPLE and rng.random() < 0.25:
        # the same write through a key of the actor's, or of their company
        mine = [k for k in state.keys if k["user_id"] == PEOPLE[actor]]
        theirs = [k for k in state.keys if not k["user_id"]]
        pool = mine if mine and rng.random() < 0.7 else theirs
        key = rng.choice(pool) if pool else None
    return kind, actor, body, key


def batch_scripts(batch):
    """Each session runs its operations one after the other; the operator's
    ones in a session of the operator's own."""
    scripts = []
    for session, ops in driver.session_ops():
        users, operator = [], []
        for op in ops:
            kind, actor, body, key = generate()
            script = wrap(op, batch, session, actor, body, kind, key=key)
            (operator if actor == "operator" else users).append(script)
        scripts.append(("authenticator", "".join(users)))
        scripts.append((OWNER, "".join(operator)))
    return scripts


def ask_phase(batch):
    """Every identity asks iam.can() about every registered permission in
    every company (and none), in one transaction each, as PostgREST would."""
    companies = list(COMPANIES.values()) + [UNKNOWN_COMPANY]
    values = "(VALUES " + ", ".join(f"({lit(p)})" for p in state.permissions) + ") AS p (name)"
    cvalues = "(VALUES (NULL::uuid), " + ", ".join(f"({lit(c)}::uuid)" for c in companies) + ") AS c (id)"
    parts = []
    identities = [(name, "authenticated", PEOPLE[name], None) for name in PEOPLE]
    identities += [("anon", "anon", None, None), ("service", "service_role", None, None)]
    identities += [(f"key:{k['name']}", "anon", None, k) for k in state.keys]
    for ident, db_role, user_id, key in identities:
        privileged = db_role == "service_role"
        lines = ["BEGIN;"] + identity_lines(db_role, user_id, None, "sql")
        if key is not None:
            lines = ["BEGIN;", f"SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '', true), "
                     f"set_config('request.headers', {lit(json.dumps({'x-api-key': key['secret']}))}, true) "
                     f"\\g /dev/null",
                     "SELECT iam.authenticate_request() \\g /dev/null",
                     "\\if :ERROR",
                     "ROLLBACK;",
                     f"INSERT INTO pinv.refused_keys VALUES ({batch}, {lit(key['key_id'])});",
                     "\\else"]
        head = (f"INSERT INTO pinv.answers SELECT {batch}, {lit(ident)}, {lit(user_id)}, "
                f"{lit(key['key_id'] if key else None)}, {str(privileged).lower()}, p.name")
        lines.append(f"{head}, c.id, false, iam.can(p.name, c.id) FROM {values}, {cvalues};")
        lines.append(f"{head}, NULL, true, iam.can(p.name) FROM {values};")
        lines.append("COMMIT;")
        if key is not None:
            lines.append("\\endif")
        parts.append("\n".join(lines) + "\n")
    driver.run_sessions([("authenticator", "".join(parts))], tag="ask")


def setup():
    """Permissions, templates, the companies' own roles, a holder of
    iam:roles:manage through a custom role (Alice, in Acme), and keys of
    every kind, each made by whoever may make it."""
    psql(SUPERUSER, f"""
SET client_min_messages = warning;
UPDATE iam.companies SET current_iam_status = 'active' WHERE id = {lit(COMPANIES['Initech'])};
INSERT INTO iam.permissions (name) VALUES ('courses:read'), ('courses:edit'), ('reports:view'), ('x:1');
INSERT INTO iam.company_roles (company_id, name) VALUES (NULL, 'instructor'), (NULL, 'learner'),
    ({lit(COMPANIES['Acme'])}, 'coordinator'), ({lit(COMPANIES['Acme'])}, 'grader'),
    ({lit(COMPANIES['Globex'])}, 'auditor'), ({lit(COMPANIES['Globex'])}, 'grader');
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT r.id, g FROM iam.company_roles AS r, LATERAL (VALUES
    (CASE r.name WHEN 'instructor' THEN 'courses:*' WHEN 'learner' THEN 'courses:read'
                 WHEN 'coordinator' THEN 'iam:roles:manage' WHEN 'grader' THEN 'courses:edit'
                 WHEN 'auditor' THEN 'reports:view' END),
    (CASE r.name WHEN 'coordinator' THEN 'courses:read' END)) AS v (g)
WHERE g IS NOT NULL AND r.name <> 'member' AND r.name <> 'admin';
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, 'reports:view' FROM iam.roles WHERE name = 'support_agent';
INSERT INTO iam.company_users (user_id, company_id, role_in_company) VALUES
    ({lit(PEOPLE['Nina'])}, {lit(COMPANIES['Globex'])}, 'member');
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT {lit(PEOPLE['Alice'])}::uuid, {lit(COMPANIES['Acme'])}::uuid, id FROM iam.company_roles WHERE name = 'coordinator'
UNION ALL SELECT {lit(PEOPLE['Vera'])}, {lit(COMPANIES['Acme'])}, id FROM iam.company_roles WHERE name = 'learner'
UNION ALL SELECT {lit(PEOPLE['Nina'])}, {lit(COMPANIES['Globex'])}, id FROM iam.company_roles WHERE name = 'auditor';
""")
    parts = []
    keys = [("alice_all", "Alice", None, '["*"]'), ("alice_roles", "Alice", None, '["iam:company_member_roles:write", "courses:read", "iam:roles:manage"]'),
            ("carol_all", "Carol", None, '["*"]'), ("carol_acme", "Carol", COMPANIES["Acme"], '["*"]'),
            ("carol_read", "Carol", None, '["courses:read"]'), ("olga_all", "Olga", None, '["*"]'),
            ("pam_all", "Pam", None, '["*"]'), ("olga_globex", "Olga", COMPANIES["Globex"], '["courses:*", "iam:*"]'), ("vera_acme", "Vera", COMPANIES["Acme"], '["*"]'),
            ("nina_all", "Nina", COMPANIES["Globex"], '["*"]'), ("ivan_all", "Ivan", None, '["*"]')]
    for name, owner, company_id, scope in keys:
        parts.append(f"BEGIN;\nSELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', "
                     f"{lit(json.dumps({'sub': PEOPLE[owner], 'role': 'authenticated'}))}, true) \\g /dev/null\n"
                     f"INSERT INTO pinv.secrets SELECT {lit(name)}, id, api_key FROM iam.create_api_key({lit(name)}, "
                     f"user_id => {lit(PEOPLE[owner])}, company_id => {lit(company_id)}, permissions => {lit(scope)});"
                     f"\nCOMMIT;\n")
    for name, admin, company_id in [("acme_key", "Carol", COMPANIES["Acme"]), ("globex_key", "Olga", COMPANIES["Globex"])]:
        parts.append(f"BEGIN;\nSELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', "
                     f"{lit(json.dumps({'sub': PEOPLE[admin], 'role': 'authenticated'}))}, true) \\g /dev/null\n"
                     f"INSERT INTO pinv.secrets SELECT {lit(name)}, id, api_key FROM iam.create_api_key({lit(name)}, "
                     f"user_id => NULL, company_id => {lit(company_id)}, permissions => '[\"*\"]');\nCOMMIT;\n")
    for part in parts:
        psql("authenticator", part)
    psql(SUPERUSER, f"UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' "
                    f"WHERE id = {lit(COMPANIES['Initech'])}")
    if rows("SELECT count(*) FROM pinv.secrets")[0][0] != str(len(keys) + 2):
        sys.exit("setup: a key was not made")


def answers_checked():
    return f", {rows('SELECT count(*) FROM pinv.answers')[0][0]} answers of iam.can() checked,"


driver.run(setup, state.refresh, batch_scripts, ask_phase, summary_extra=answers_checked)
