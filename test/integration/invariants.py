#!/usr/bin/env python3
"""The invariant suite's driver (run by test/integration/invariants.sh).

From a seed, it picks random actors, paths, isolation levels and operations,
the hostile ones included, runs them in batches of a few concurrent psql
sessions, and after each batch checks every invariant of
invariants_checks.sql as the superuser. Standard library and psql only.

Environment: PGHOST, PGPORT, PGPASSWORD (as for psql), IAM_DB, IAM_OWNER,
IAM_INVARIANT_SEED (replays a run), IAM_INVARIANT_OPS (operations in all),
IAM_INVARIANT_LOGS (a folder for the sessions' output).
"""
import json
import string
import subprocess
import sys
import time

from invariant_driver import COMPANIES, ISOLATIONS, PEOPLE as FIXTURE_PEOPLE, Driver, lit

driver = Driver("invariants", "inv", "IAM_INVARIANT", default_ops=1000, per_session=12,
                op_columns="id, batch, session, actor, actor_id, key_id, db_role, path, isolation, kind, body",
                seed_in_errors=False, violation_chars=None, no_operation="(no operation: setup)")
rng, psql, rows, next_op, record_ops = driver.rng, driver.psql, driver.rows, driver.next_op, driver.record_ops
OWNER, SUPERUSER, LOGS, op_rows = driver.owner, driver.superuser, driver.logs, driver.op_rows

PEOPLE = dict(FIXTURE_PEOPLE)
EMAIL = {"Alice": "alice@acme.test", "Vera": "vera@acme.test", "Carol": "carol@acme.test",
         "Remy": "remy@acme.test", "Olga": "olga@globex.test", "Ivan": "ivan@initech.test",
         "Nina": "nina@example.test", "Gus": "gus@example.test", "Pam": "pam@platform.test",
         "Pat": "pat@platform.test", "Sam": "sam@platform.test"}
# Newcomers sign up through GoTrue (auth.users) during the run, some never
# confirming their address; invitations are sent to their addresses.
NEWCOMERS = {f"New{i}": f"b0000000-0000-4000-8000-0000000000n{i}".replace("n", "f") for i in range(1, 4)}
PEOPLE.update(NEWCOMERS)
EMAIL.update({name: f"{name.lower()}@newcomer.test" for name in NEWCOMERS})
NAME_OF = {v: k for k, v in PEOPLE.items()}
ROLES = ["solo_learner", "enterprise_employee", "enterprise_admin", "course_creator", "consultant",
         "support_agent", "platform_admin"]
TABLES = ["roles", "users", "user_roles", "companies", "company_users", "user_settings", "api_keys",
          "referral_codes", "referrals", "company_invitations"]
PERMISSIONS = ['[]', '["*"]', '["courses:read"]', '["courses:read", "iam:api_keys:write"]',
               '["iam:*"]', '["iam:company_users:write"]', '["reports:*", "iam:api_keys:write"]']


class State:
    """What the generator picks from, read from the database before each batch."""

    def refresh(self):
        self.keys = [dict(zip(["sid", "key_id", "secret", "user_id", "company_id", "permissions", "active",
                               "remaining", "rate_limit", "expires_at", "refilled_at"], r)) for r in rows(
            "SELECT s.sid, s.key_id, s.secret, coalesce(k.user_id::text, ''), coalesce(k.company_id::text, ''), "
            "coalesce(k.permissions::text, '[]'), coalesce(k.is_active::text, 'false'), "
            "coalesce(k.remaining::text, ''), coalesce(k.rate_limit::text, ''), coalesce(k.expires_at::text, ''), "
            "coalesce(k.refilled_at::text, '') "
            "FROM inv.secrets AS s LEFT JOIN iam.api_keys AS k ON k.id = s.key_id ORDER BY s.sid")]
        # (the bookkeeping rows commit with their operation's transaction or not at all)
        self.tokens = rows("SELECT token, coalesce(invitee::text, '') FROM inv.tokens ORDER BY token")
        self.invitations = [r[0] for r in rows("SELECT id FROM iam.company_invitations ORDER BY id")]
        self.admins = {}
        for company, user in rows("SELECT cu.company_id, cu.user_id FROM iam.company_users AS cu "
                                  "JOIN iam.companies AS c ON c.id = cu.company_id "
                                  "WHERE cu.is_active_in_company AND cu.role_in_company = 'admin' "
                                  "AND c.current_iam_status = 'active' AND NOT c.is_deleted ORDER BY 1, 2"):
            self.admins.setdefault(company, []).append(user)
        self.removed = rows("SELECT company_id, user_id FROM iam.company_users WHERE NOT is_active_in_company ORDER BY 1, 2")


state = State()


def claims_of(user_id):
    return json.dumps({"aud": "authenticated", "role": "authenticated", "sub": user_id})


def wrap(op, batch, session, actor, body, kind, path=None, isolation=None, key=None, spend_key=None):
    """The transaction of one operation, as PostgREST or a plain SQL client
    sends it, ending with the bookkeeping inserts; recorded in inv.ops."""
    if actor in ("operator", "gotrue"):
        db_role, actor_id = actor, None
    elif actor == "anon" or key is not None:
        # a request that presents only an API key, as PostgREST sends it: anon
        db_role, actor_id = "anon", (key["user_id"] or None) if key else None
    elif actor == "service":
        db_role, actor_id = "service_role", None
    else:
        db_role, actor_id = "authenticated", PEOPLE[actor]
    if path is None:
        path = "rest" if key is not None else rng.choice(["rest", "sql", "sql", "sql+row_security=off"])
    if isolation is None:
        isolation = "READ COMMITTED" if path == "rest" else rng.choice(ISOLATIONS)
    lines = [f"BEGIN ISOLATION LEVEL {isolation};",
             f"SELECT set_config('inv.op', '{op}', true) \\g /dev/null"]
    if db_role not in ("operator", "gotrue"):
        claims = claims_of(actor_id) if db_role == "authenticated" else (
            json.dumps({"role": "service_role"}) if db_role == "service_role" else "")
        headers = json.dumps({"x-api-key": key["secret"]}) if key else "{}"
        lines.append(f"SELECT set_config('role', {lit(db_role)}, true), set_config('request.jwt.claims', {lit(claims)}, true), "
                     f"set_config('request.headers', {lit(headers)}, true), set_config('search_path', 'iam', true) \\g /dev/null")
        if path == "rest":
            lines.append("SELECT iam.authenticate_request() \\g /dev/null")
        if path == "sql+row_security=off":
            lines.append("SET LOCAL row_security = off;")
    lines.append(body if body.rstrip().endswith(";") else body + ";")
    if key is not None and path == "rest":
        # A request spends a credit of a key with credits; one without
        # (never sold, or its limits lifted) spends nothing.
        lines.append(f"INSERT INTO inv.spent SELECT {op}, {lit(key['key_id'])}, 1 "
                     "WHERE iam.api_key_credits_remaining() IS NOT NULL;")
    if db_role not in ("operator", "gotrue"):
        lines.append(f"INSERT INTO inv.locks SELECT {op}, l.relation::regclass::text, l.mode FROM pg_locks AS l "
                     "JOIN pg_class AS r ON r.oid = l.relation "
                     "WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND r.relnamespace = 'iam'::regnamespace "
                     "AND l.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock', 'SIReadLock');")
    lines.append(f"INSERT INTO inv.done VALUES ({op});")
    lines.append("COMMIT;")
    name = actor if key is None else f"key:{key['sid']}({NAME_OF.get(key['user_id'], 'company ' + key['company_id'][-2:])})"
    op_rows.append((op, batch, session, name, actor_id, key["key_id"] if key else None, db_role, path, isolation,
                    kind, body))
    return "\n".join(lines) + "\n"


def pick_key(where=None):
    keys = [k for k in state.keys if where is None or where(k)]
    return rng.choice(keys) if keys else None


def random_token():
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(32))


def random_user():
    return rng.choice(list(PEOPLE))


def random_company():
    return rng.choice(list(COMPANIES.values()))


def actor_for_key_ops(key):
    """Mostly the key's owner (or, for a company key, an admin of it)."""
    if key and rng.random() < 0.7:
        if key["user_id"]:
            return NAME_OF.get(key["user_id"], random_user())
        admins = state.admins.get(key["company_id"], [])
        if admins:
            return NAME_OF.get(rng.choice(admins), random_user())
    return rng.choice(list(PEOPLE) + ["anon", "service"])


def generate(op):
    """(kind, actor, body, key, path): one random operation."""
    kinds = ["grant_role", "insert_role", "revoke_role", "add_member", "remove_member", "set_company_role",
             "reactivate_member", "promote_direct", "demote_direct", "insert_member", "invite", "invite_direct",
             "accept", "accept", "create_key", "create_key_by_key", "create_key_by_key", "rotate_key", "revoke_key",
             "reactivate_key", "widen_key", "report_key", "report_key", "use_key", "use_key", "use_key", "consume",
             "consume", "copy_key", "copy_key", "backdate_refill", "raise_credits", "lift_limits",
             "set_company_status", "lock_view", "lock_table"]
    kind = rng.choice(kinds)
    user, company, role = random_user(), random_company(), rng.choice(ROLES)
    actor = rng.choice(list(PEOPLE) + ["anon", "service"])
    key, path = None, None
    u = PEOPLE[user]
    if kind == "grant_role":
        body = f"SELECT iam.grant_role({lit(u)}, {lit(role)})"
    elif kind == "insert_role":
        body = f"INSERT INTO iam.user_roles (user_id, role_id) SELECT {lit(u)}, id FROM iam.roles WHERE name = {lit(role)}"
    elif kind == "revoke_role":
        body = f"SELECT iam.revoke_role({lit(u)}, {lit(role)})"
    elif kind == "add_member":
        body = f"SELECT iam.add_company_member({lit(company)}, {lit(u)})"
    elif kind == "remove_member":
        body = f"SELECT iam.remove_company_member({lit(company)}, {lit(u)})"
    elif kind == "set_company_role":
        body = f"SELECT iam.set_company_role({lit(company)}, {lit(u)}, {lit(rng.choice(['member', 'admin']))})"
    elif kind == "reactivate_member":
        if state.removed and rng.random() < 0.7:
            company, u = rng.choice(state.removed)
        admins = state.admins.get(company, [])
        if admins and rng.random() < 0.7:
            actor = NAME_OF.get(rng.choice(admins), actor)
        body = (f"UPDATE iam.company_users SET is_active_in_company = true "
                f"WHERE company_id = {lit(company)} AND user_id = {lit(u)}")
    elif kind == "promote_direct":
        body = (f"UPDATE iam.company_users SET role_in_company = 'admin' "
                f"WHERE company_id = {lit(company)} AND user_id = {lit(u)}")
    elif kind == "demote_direct":
        column = rng.choice(["role_in_company = 'member'", "is_active_in_company = false"])
        body = f"UPDATE iam.company_users SET {column} WHERE company_id = {lit(company)} AND user_id = {lit(u)}"
    elif kind == "insert_member":
        body = (f"INSERT INTO iam.company_users (user_id, company_id, role_in_company) "
                f"VALUES ({lit(u)}, {lit(company)}, {lit(rng.choice(['member', 'admin']))})")
    elif kind == "invite":
        admins = state.admins.get(company, [])
        if admins and rng.random() < 0.8:
            actor = NAME_OF.get(rng.choice(admins), actor)
        if rng.random() < 0.3:
            user = rng.choice(sorted(NEWCOMERS))
            u = PEOPLE[user]
        to = (f"email => {lit(EMAIL[user])}" if rng.random() < 0.5 or user in NEWCOMERS else f"user_id => {lit(u)}")
        body = (f"INSERT INTO inv.tokens (token, invitee) SELECT token, {lit(u)} FROM "
                f"iam.invite_to_company({lit(company)}, {to}, role_in_company => {lit(rng.choice(['member', 'admin']))})")
    elif kind == "invite_direct":
        admins = state.admins.get(company, [])
        if admins and rng.random() < 0.8:
            actor = NAME_OF.get(rng.choice(admins), actor)
        token = random_token()
        inviter = PEOPLE[random_user()]
        body = (f"WITH i AS (INSERT INTO iam.company_invitations (company_id, invited_email, invited_user_id, "
                f"role_in_company, token_hash, invited_by, expires_at) VALUES ({lit(company)}, "
                f"{lit(EMAIL[user]) if rng.random() < 0.5 else 'NULL'}, {lit(u)}, {lit(rng.choice(['member', 'admin']))}, "
                f"encode(sha256(convert_to({lit(token)}, 'UTF8')), 'hex'), {lit(inviter)}, 'infinity') RETURNING id) "
                f"INSERT INTO inv.tokens (token, invitee) SELECT {lit(token)}, {lit(u)} FROM i")
    elif kind == "accept":
        if not state.tokens:
            return generate(op)
        token, invitee = rng.choice(state.tokens)
        actor = NAME_OF.get(invitee, actor) if invitee and rng.random() < 0.8 else actor
        if rng.random() < 0.4:
            # the invitee's own key, whatever its scope
            key = pick_key(lambda k: k["user_id"] == PEOPLE.get(actor) and k["active"] == "true")
        body = f"SELECT iam.accept_company_invitation({lit(token)})"
        if rng.random() < 0.2:
            path = "sql+row_security=off"
    elif kind == "create_key":
        owner_company = rng.random() < 0.3
        body = (f"INSERT INTO inv.secrets (key_id, secret, how) SELECT id, api_key, 'create' FROM iam.create_api_key("
                f"'k{op}', user_id => {'NULL' if owner_company else lit(PEOPLE.get(actor))}, "
                f"company_id => {lit(company) if owner_company or rng.random() < 0.2 else 'NULL'}, "
                f"permissions => {lit(rng.choice(PERMISSIONS))})")
    elif kind == "create_key_by_key":
        key = pick_key(lambda k: k["active"] == "true" and ("api_keys" in k["permissions"] or '"*"' in k["permissions"]
                                                            or "iam:*" in k["permissions"]) and rng.random() < 0.8
                       or k["remaining"] != "")
        if key is None:
            return generate(op)
        expiry = "now() + interval '1 hour'" if rng.random() < 0.7 else "NULL"
        body = (f"INSERT INTO inv.secrets (key_id, secret, how) SELECT id, api_key, 'minted' FROM iam.create_api_key("
                f"'m{op}', permissions => {lit(rng.choice(PERMISSIONS[2:4] + ['[]']))}, expires_at => {expiry})")
    elif kind == "rotate_key":
        key_row = pick_key()
        if key_row is None:
            return generate(op)
        actor = actor_for_key_ops(key_row)
        grace = rng.choice(["0", "1 hour"])
        body = (f"INSERT INTO inv.secrets (key_id, secret, how) SELECT id, api_key, 'rotate {grace}' "
                f"FROM iam.rotate_api_key({lit(key_row['key_id'])}, {lit(grace)})")
        kind = "rotate_key"
    elif kind in ("revoke_key", "reactivate_key", "widen_key", "backdate_refill", "raise_credits", "lift_limits"):
        key_row = pick_key(lambda k: kind != "backdate_refill" or (k["remaining"] != "" and (
            k["refilled_at"] == "" or rng.random() < 0.3)))
        if key_row is None:
            return generate(op)
        actor = actor_for_key_ops(key_row) if kind != "raise_credits" else rng.choice(
            [actor_for_key_ops(key_row), "Pam", "Pat"])
        k = lit(key_row["key_id"])
        body = {
            "revoke_key": rng.choice([f"SELECT iam.revoke_api_key({k})",
                                      f"UPDATE iam.api_keys SET is_active = false WHERE id = {k}"]),
            "reactivate_key": f"UPDATE iam.api_keys SET is_active = true WHERE id = {k}",
            "widen_key": f"UPDATE iam.api_keys SET permissions = '[\"*\"]' WHERE id = {k}",
            "backdate_refill": f"UPDATE iam.api_keys SET refilled_at = now() - interval '31 days' WHERE id = {k}",
            "raise_credits": rng.choice([f"UPDATE iam.api_keys SET remaining = coalesce(remaining, 0) + 50 WHERE id = {k}",
                                         f"SELECT iam.set_api_key_credits({k}, 100)"]),
            "lift_limits": rng.choice([f"UPDATE iam.api_keys SET rate_limit = NULL, rate_limit_window = NULL WHERE id = {k}",
                                       f"UPDATE iam.api_keys SET remaining = NULL, refill_amount = NULL, "
                                       f"refill_interval = NULL WHERE id = {k}"]),
        }[kind]
        if rng.random() < 0.25:
            key = pick_key(lambda kk: kk["user_id"] == key_row["user_id"] and kk["active"] == "true")
    elif kind == "report_key":
        key_row = pick_key()
        if key_row is None:
            return generate(op)
        actor = rng.choice(["anon", "anon", random_user(), actor_for_key_ops(key_row)])
        s = lit(key_row["secret"])
        # whether the key verified when it was reported (its company may be
        # suspended, its user banned)
        body = (f"SELECT set_config('inv.verified', (SELECT count(*) FROM iam.verify_api_key({s}))::text, true);\n"
                f"INSERT INTO inv.reported SELECT {op}, {lit(key_row['key_id'])}, {s}, "
                f"current_setting('inv.verified') = '1' FROM (SELECT iam.report_leaked_api_key({s})) AS r;")
        if rng.random() < 0.3:
            path = "sql+row_security=off"
    elif kind == "use_key":
        key = pick_key(lambda k: k["active"] == "true" and rng.random() < (0.9 if k["remaining"] else 0.3))
        if key is None:
            return generate(op)
        body = "SELECT iam.current_user_id(), iam.api_key_credits_remaining()"
    elif kind == "consume":
        key_row = pick_key(lambda k: k["active"] == "true" and rng.random() < (0.9 if k["remaining"] else 0.3))
        if key_row is None:
            return generate(op)
        actor = rng.choice(["anon", "service", actor_for_key_ops(key_row)])
        cost = rng.choice([1, 1, 2])
        # consume_api_key answers NULL for a key without credits: nothing spent
        body = (f"INSERT INTO inv.spent SELECT {op}, {lit(key_row['key_id'])}, {cost} "
                f"FROM (SELECT iam.consume_api_key({lit(key_row['secret'])}, {cost}) AS credits_left) AS c "
                f"WHERE c.credits_left IS NOT NULL")
    elif kind == "copy_key":
        key_row = pick_key(lambda k: k["user_id"] != "" and k["active"] == "true")
        if key_row is None:
            return generate(op)
        actor = NAME_OF.get(key_row["user_id"], actor)
        prefix = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(8))
        body = (f"DO $$ DECLARE copy uuid; BEGIN\n"
                f"INSERT INTO iam.api_keys (user_id, company_id, name, key_prefix, hashed_key, permissions, expires_at, "
                f"replaces_key_id, remaining, refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window) "
                f"SELECT user_id, company_id, 'copy {op}', '{prefix}', 'v1$' || md5('{prefix}'), permissions, expires_at, id, "
                f"remaining, refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window "
                f"FROM iam.api_keys WHERE id = {lit(key_row['key_id'])} RETURNING id INTO copy;\n"
                f"INSERT INTO inv.secrets (key_id, secret, how) SELECT r.id, r.api_key, 'copy' FROM iam.rotate_api_key(copy) AS r;\n"
                f"END $$;")
        if rng.random() < 0.3:
            path = "sql"
    elif kind == "set_company_status":
        status = rng.choice(["active", "suspended_by_admin"])
        actor = rng.choice([actor, "Pam", "service", NAME_OF.get((state.admins.get(company) or [""])[0], actor)])
        body = rng.choice([f"SELECT iam.set_company_status({lit(company)}, {lit(status)})",
                           f"UPDATE iam.companies SET current_iam_status = {lit(status)} WHERE id = {lit(company)}"])
    elif kind == "lock_view":
        table = rng.choice(TABLES + ["user_roles"] * 5)
        body = (f"CREATE TEMP VIEW inv_lock_{op} AS SELECT * FROM iam.{table};\n"
                f"LOCK TABLE inv_lock_{op} IN ACCESS EXCLUSIVE MODE;")
    elif kind == "lock_table":
        body = f"LOCK TABLE iam.{rng.choice(TABLES)} IN {rng.choice(['SHARE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'])} MODE"
    if key is None and actor not in PEOPLE and actor not in ("anon", "service"):
        actor = "anon"
    if key is None and rng.random() < 0.15 and kind not in ("create_key", "create_key_by_key"):
        # the same operation through a key of the actor's, of any scope
        key = pick_key(lambda k: k["user_id"] == PEOPLE.get(actor) and k["active"] == "true")
    return kind, actor, body, key, path


def batch_scripts(batch):
    scripts = []
    for session, ops in driver.session_ops():
        parts = []
        for op in ops:
            kind, actor, body, key, path = generate(op)
            parts.append(wrap(op, batch, session, actor, body, kind, path=path, key=key))
        scripts.append(("authenticator", "".join(parts)))
    return scripts


def run_sessions(scripts, user="authenticator", tag="s"):
    driver.run_sessions([(user, script) for script in scripts], tag=tag)


signed_up = set()


def operator_phase(batch):
    """The operator and GoTrue: sales of credits and limits, bans and their
    lifting, suspensions and restores."""
    parts = []
    for _ in range(3):
        op = next_op()
        choice = rng.choice(["sell", "sell_plain", "sell_plain", "ban", "unban", "suspend", "restore", "restore"])
        if choice.startswith("sell"):
            key_row = pick_key(lambda k: k["user_id"] != "" and k["active"] == "true")
            if key_row is None:
                continue
            k = lit(key_row["key_id"])
            if choice == "sell":
                body = (f"SELECT iam.set_api_key_credits({k}, {rng.choice([2, 3, 5])}, {rng.choice([5, 10])}, '30 days'), "
                        f"iam.set_api_key_rate_limit({k}, {rng.choice([4, 6])}, '1 day')")
            else:
                # sold by a plain UPDATE with no refill date: the refill counts from the sale
                body = (f"UPDATE iam.api_keys SET remaining = 2, refill_amount = 99, refill_interval = '30 days', "
                        f"refilled_at = NULL WHERE id = {k}")
        elif choice in ("ban", "unban"):
            user = rng.choice(["Alice", "Nina", "Vera", "Gus"])
            until = "now() + interval '1 day'" if choice == "ban" else "NULL"
            body = (f"SELECT iam.sync_user_from_auth(jsonb_build_object('id', {lit(PEOPLE[user])}, 'email', "
                    f"{lit(EMAIL[user])}, 'email_confirmed_at', now(), 'banned_until', {until}))")
        else:
            status = "suspended_by_admin" if choice == "suspend" else "active"
            body = f"SELECT iam.set_company_status({lit(random_company())}, {lit(status)})"
        parts.append(wrap(op, batch, 0, "operator", body, choice, path="sql", isolation="READ COMMITTED"))
    # GoTrue: a newcomer signs up, confirmed or not, once.
    signups = []
    for name in sorted(NEWCOMERS):
        if name in signed_up or rng.random() < 0.6:
            continue
        signed_up.add(name)
        op = next_op()
        confirmed = "now()" if rng.random() < 0.4 else "NULL"
        body = (f"INSERT INTO auth.users (id, aud, role, email, email_confirmed_at) VALUES ({lit(PEOPLE[name])}, "
                f"'authenticated', 'authenticated', {lit(EMAIL[name])}, {confirmed})")
        signups.append(wrap(op, batch, 0, "gotrue", body, "sign_up" if confirmed == "NULL" else "sign_up_confirmed",
                            path="sql", isolation="READ COMMITTED"))
    record_ops()
    run_sessions(["".join(parts)], user=OWNER, tag="operator")
    run_sessions(["".join(signups)], user="supabase_auth_admin", tag="gotrue")


def race_phase(batch):
    """Every active admin of a company with two or more demotes themselves at
    once, each in a snapshot taken before any of them commits."""
    companies = [c for c, admins in sorted(state.admins.items()) if len(admins) >= 2]
    if not companies:
        return
    company = rng.choice(companies)
    admins = state.admins[company][:3]
    isolation = rng.choice(ISOLATIONS + ["REPEATABLE READ"])
    lock = 424200 + batch
    controller = subprocess.Popen(["psql", "-X", "-q", "-U", SUPERUSER, "-d", driver.db], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    controller.stdin.write(f"SELECT pg_advisory_lock({lock});\n")
    controller.stdin.flush()
    while rows(f"SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = {lock} AND granted") == []:
        time.sleep(0.05)
    scripts = []
    for admin in admins:
        op = next_op()
        how = rng.choice([f"SELECT iam.set_company_role({lit(company)}, {lit(admin)}, 'member')",
                          f"SELECT iam.remove_company_member({lit(company)}, {lit(admin)})",
                          f"UPDATE iam.company_users SET role_in_company = 'member' WHERE company_id = {lit(company)} "
                          f"AND user_id = {lit(admin)}"])
        # The snapshot is taken by the first statement; the racers then wait
        # for each other at the advisory lock.
        body = (f"SELECT count(*) FROM iam.company_users \\g /dev/null\n"
                f"SELECT pg_advisory_xact_lock_shared({lock}) \\g /dev/null\n{how};")
        scripts.append(wrap(op, batch, len(scripts), NAME_OF[admin], body, "race_demote_self", path="race",
                            isolation=isolation))
    record_ops()
    procs = [driver.start_session("authenticator", script, f"race{i}", echo_errors=False)
             for i, script in enumerate(scripts)]
    for _ in range(200):
        waiting = rows(f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {lock} AND NOT granted")
        if int(waiting[0][0]) >= len(procs) or all(p.poll() is not None for p, _ in procs):
            break
        time.sleep(0.05)
    controller.stdin.write(f"SELECT pg_advisory_unlock({lock});\n")
    controller.stdin.close()
    controller.wait()
    for p, log in procs:
        p.wait()
        log.close()


CONTEXTS = ["{e}", "NOT ({e})", "coalesce({e}, true)", "({e}) IS FALSE", "({e}) IS NOT FALSE", "({e}) IS NULL",
            "({e}) IS TRUE"]


def check_phase(batch):
    """Each check against the plain SQL it stands for, as a random caller,
    alone (no concurrent change), in every boolean context."""
    parts = []
    for _ in range(2):
        op = next_op()
        ids = list(COMPANIES.values()) + ["c0000000-0000-4000-8000-0000000000ff"]
        values = "(VALUES (NULL::uuid), " + ", ".join(f"('{i}'::uuid)" for i in ids) + ") AS t (x)"
        agg = "coalesce(string_agg(coalesce(x::text, 'null'), ',' ORDER BY x NULLS FIRST), '')"
        statements = []
        for ctx in CONTEXTS:
            any_e = "x = ANY (iam.current_company_ids())"
            statements.append(
                f"INSERT INTO inv.answers SELECT {op}, 'x = ANY (iam.current_company_ids())', {lit(ctx.format(e='e'))}, "
                f"(SELECT {agg} FROM {values} WHERE {ctx.format(e=any_e)}), "
                f"(SELECT {agg} FROM (SELECT x, {ctx.format(e=any_e)} AS v FROM {values} OFFSET 0) AS q WHERE v), "
                f"(SELECT {agg} FROM {values}, (SELECT iam.current_company_ids() AS a OFFSET 0) AS ids "
                f"WHERE {ctx.format(e='x = ANY (ids.a)')});")
            member_e = "iam.is_company_member(x)"
            plain_e = "inv.plain_member(x, iam.current_user_id())"
            statements.append(
                f"INSERT INTO inv.answers SELECT {op}, 'iam.is_company_member(x)', {lit(ctx.format(e='e'))}, "
                f"(SELECT {agg} FROM {values} WHERE {ctx.format(e=member_e)}), "
                f"(SELECT {agg} FROM (SELECT x, {ctx.format(e=member_e)} AS v FROM {values} OFFSET 0) AS q WHERE v), "
                f"(SELECT {agg} FROM {values} WHERE {ctx.format(e=plain_e)});")
        actor = rng.choice(list(PEOPLE) + ["anon", "anon", "service"])
        key = pick_key(lambda k: k["active"] == "true") if rng.random() < 0.3 else None
        parts.append(wrap(op, batch, 0, actor, "\n".join(statements), "check_answers", key=key))
    record_ops()
    run_sessions(["".join(parts)], tag="check")


def setup():
    """Keys of every kind, made by their owners through the API: narrow,
    with iam:api_keys:write, company keys (Initech's while it was active),
    and sales of credits and rate limits by the service role."""
    parts = []
    for user in ["Alice", "Vera", "Carol", "Nina", "Gus", "Pam", "Olga", "Ivan"]:
        for perms in ['["courses:read"]', '["*"]', '["courses:read", "iam:api_keys:write"]']:
            op = next_op()
            expiry = "now() + interval '1 day'" if "api_keys" in perms else "NULL"
            body = (f"INSERT INTO inv.secrets (key_id, secret, how) SELECT id, api_key, 'setup' "
                    f"FROM iam.create_api_key('{user} {perms}', permissions => {lit(perms)}, expires_at => {expiry})")
            parts.append(wrap(op, 0, 0, user, body, "setup_key", path="rest"))
    for admin, company in [("Carol", "Acme"), ("Olga", "Globex"), ("Ivan", "Initech")]:
        op = next_op()
        body = (f"INSERT INTO inv.secrets (key_id, secret, how) SELECT id, api_key, 'setup' FROM iam.create_api_key("
                f"'{company}', user_id => NULL, company_id => {lit(COMPANIES[company])}, permissions => '[\"*\"]')")
        parts.append(wrap(op, 0, 0, admin, body, "setup_key", path="rest"))
    # A second admin in Acme and Globex, so that admins can race.
    for company, user in [("Acme", "Vera"), ("Globex", "Nina")]:
        op = next_op()
        parts.append(wrap(op, 0, 0, "Pam", f"SELECT iam.add_company_member({lit(COMPANIES[company])}, {lit(PEOPLE[user])}), "
                          f"iam.set_company_role({lit(COMPANIES[company])}, {lit(PEOPLE[user])}, 'admin')",
                          "setup_member", path="rest"))
    psql(SUPERUSER, f"UPDATE iam.companies SET current_iam_status = 'active' WHERE id = {lit(COMPANIES['Initech'])}")
    record_ops()
    run_sessions(["".join(parts)], tag="setup")
    psql(SUPERUSER, f"UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE id = {lit(COMPANIES['Initech'])}")
    state.refresh()
    parts = []
    for key_row in [k for k in state.keys if k["user_id"] in (PEOPLE["Alice"], PEOPLE["Nina"], PEOPLE["Gus"])]:
        op = next_op()
        k = lit(key_row["key_id"])
        parts.append(wrap(op, 0, 0, "service", f"SELECT iam.set_api_key_credits({k}, 3, 5, '30 days'), "
                          f"iam.set_api_key_rate_limit({k}, 5, '1 day')", "sell", path="sql", isolation="READ COMMITTED"))
    record_ops()
    run_sessions(["".join(parts)], tag="setup")
    missing = rows("SELECT count(*) FROM inv.ops AS o WHERE o.batch = 0 AND o.id NOT IN (SELECT op FROM inv.done)")
    if missing[0][0] != "0":
        sys.exit(f"setup: {missing[0][0]} operations failed; see {LOGS}/invariants.setup0.log")


def after_batch(batch):
    """The operator's and GoTrue's turn, the admins' race, the checks' answers."""
    operator_phase(batch)
    state.refresh()
    race_phase(batch)
    check_phase(batch)


driver.run(setup, state.refresh, batch_scripts, after_batch)
