"""What the invariant suites' drivers share (invariants.py,
permission_invariants.py): the seed and its replay, psql sessions, the
bookkeeping of operations, the run of batches, the checks after each batch
and the summary. Each suite brings its own operations, its schema of
bookkeeping tables (inv, pinv) and its file of checks (<name>_checks.sql).

A suite's environment variables are named by its prefix: <prefix>_SEED
replays a run, <prefix>_OPS sets how many operations, <prefix>_LOGS is the
folder for the sessions' output; IAM_DB, IAM_OWNER and PGUSER (the
superuser) as for psql.
"""
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SESSIONS = 3
ISOLATIONS = ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]

# The people and companies of test/fixtures/people.sql.
P = "a0000000-0000-4000-8000-0000000000"
PEOPLE = {
    "Alice": P + "a1", "Vera": P + "a2", "Carol": P + "a3", "Remy": P + "a4", "Olga": P + "b1",
    "Ivan": P + "c1", "Nina": P + "d1", "Gus": P + "d2", "Pam": P + "e1", "Pat": P + "e2", "Sam": P + "e3",
}
C = "c0000000-0000-4000-8000-0000000000"
COMPANIES = {"Acme": C + "0a", "Globex": C + "0b", "Initech": C + "0c"}


def lit(value):
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


class Driver:
    """One suite's run. name: the suite (its log files and checks file);
    schema: its bookkeeping tables (ops, done); op_columns: the columns of
    schema.ops that each recorded operation fills, in order. The rest keep
    each suite's words: seed_in_errors (a failed psql names the seed),
    violation_chars (how much of a violation's detail is printed at once),
    no_operation (what a finding without an operation is called)."""

    def __init__(self, name, schema, env_prefix, default_ops, per_session, op_columns, seed_in_errors,
                 violation_chars, no_operation):
        self.name, self.schema, self.env_prefix = name, schema, env_prefix
        self.db = os.environ["IAM_DB"]
        self.owner = os.environ["IAM_OWNER"]
        self.superuser = os.environ.get("PGUSER", "postgres")
        self.seed = int(os.environ.get(f"{env_prefix}_SEED") or random.SystemRandom().randrange(1, 2**31))
        self.total_ops = int(os.environ.get(f"{env_prefix}_OPS", str(default_ops)))
        self.per_session = per_session
        self.logs = os.environ.get(f"{env_prefix}_LOGS", "/tmp")
        self.op_columns = op_columns
        self.seed_in_errors = seed_in_errors
        self.violation_chars = violation_chars
        self.no_operation = no_operation
        self.rng = random.Random(self.seed)
        self.op_counter = [0]
        self.op_rows = []
        self.findings = {}
        print(f"seed {self.seed} (replay with {env_prefix}_SEED={self.seed}), {self.total_ops} operations", flush=True)

    def psql(self, user, script, check=True):
        result = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", "-v", f"ON_ERROR_STOP={1 if check else 0}",
                                 "-U", user, "-d", self.db], input=script, capture_output=True, text=True)
        if check and result.returncode != 0:
            seed = f" (seed {self.seed})" if self.seed_in_errors else ""
            sys.exit(f"psql as {user} failed{seed}: {result.stderr}\n--- script ---\n{script[:4000]}")
        return result.stdout

    def rows(self, sql):
        return [line.split("\t") for line in self.psql(self.superuser, sql).splitlines() if line]

    def next_op(self):
        self.op_counter[0] += 1
        return self.op_counter[0]

    def session_ops(self):
        """A batch's operations, session by session: (session, its operation
        numbers, drawn one at a time), per_session at most, none past the
        total."""
        def ops():
            for _ in range(self.per_session):
                if self.op_counter[0] >= self.total_ops:
                    return
                yield self.next_op()
        for session in range(SESSIONS):
            yield session, ops()

    def record_ops(self):
        """Writes the operations wrapped since the last call to schema.ops."""
        if not self.op_rows:
            return
        values = ",\n".join("(" + ", ".join(str(v).lower() if isinstance(v, bool) else
                                            (str(v) if isinstance(v, int) else lit(v)) for v in r) + ")"
                            for r in self.op_rows)
        self.psql(self.superuser, f"INSERT INTO {self.schema}.ops ({self.op_columns}) VALUES {values};")
        self.op_rows.clear()

    def start_session(self, user, script, tag, echo_errors=True):
        """A psql session running script as user, its output appended to
        <logs>/<name>.<tag>.log; (process, log)."""
        log = open(os.path.join(self.logs, f"{self.name}.{tag}.log"), "a")
        echo = ["-v", "ECHO=errors"] if echo_errors else []
        p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=terse"] + echo +
                             ["-U", user, "-d", self.db],
                             stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True)
        p.stdin.write(script)
        p.stdin.close()
        return p, log

    def run_sessions(self, scripts, tag="s"):
        """Runs (user, script) pairs at once, each in a session of its own."""
        procs = [self.start_session(user, script, f"{tag}{i}") for i, (user, script) in enumerate(scripts) if script]
        for p, log in procs:
            p.wait()
            log.close()

    def check_invariants(self, batch):
        """Runs every invariant; prints each new finding (an invariant and
        what broke it: the kind of operation, its path) with its first
        operation."""
        out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", self.superuser, "-d", self.db,
                              "-f", os.path.join(HERE, f"{self.name}_checks.sql")], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"the invariant checks failed to run (seed {self.seed}): {out.stderr}")
        for line in out.stdout.splitlines():
            if not line.strip():
                continue
            invariant, op, detail, fingerprint = (line.split("\t") + ["", "", ""])[:4]
            key = (invariant, fingerprint)
            if key in self.findings:
                self.findings[key][1].add(op)
                continue
            self.findings[key] = (detail, {op})
            print(f"VIOLATION after batch {batch}: {invariant}\n"
                  f"    op {op or '-'}: {detail[:self.violation_chars]}", flush=True)

    def describe(self, op):
        r = self.rows(f"SELECT batch, session, actor, db_role, path, isolation, kind, replace(body, E'\\n', ' ') "
                      f"FROM {self.schema}.ops WHERE id = {int(op)}") if op and op.isdigit() else []
        if not r:
            return self.no_operation
        b, s, actor, role, path, iso, kind, body = r[0]
        return f"op {op} (batch {b}, session {s}): {kind} by {actor} as {role}, path {path}, {iso}: {body[:300]}"

    def run(self, setup, refresh, batch_scripts, after_batch, summary_extra=lambda: ""):
        """setup(); then batches until the total: refresh() the state,
        batch_scripts(batch) makes the (user, script) pairs of its sessions,
        which run at once; then refresh() again, after_batch(batch), and
        every invariant is checked. Ends with the summary, and exits 1 if
        anything broke; summary_extra() adds to the count of operations."""
        start = time.time()
        setup()
        batch = 0
        while self.op_counter[0] < self.total_ops:
            batch += 1
            refresh()
            scripts = batch_scripts(batch)
            self.record_ops()
            self.run_sessions(scripts)
            refresh()
            after_batch(batch)
            self.check_invariants(batch)
        counts = self.rows(f"SELECT count(*), count(d.op) FROM {self.schema}.ops AS o "
                           f"LEFT JOIN {self.schema}.done AS d ON d.op = o.id")[0]
        print(f"{counts[0]} operations in {batch} batches ({counts[1]} committed, the rest refused){summary_extra()} "
              f"in {time.time() - start:.0f}s", flush=True)
        if self.findings:
            invariants = sorted({invariant for invariant, _ in self.findings})
            print(f"FAIL: seed {self.seed}: {len(self.findings)} findings, violating {len(invariants)} invariants")
            for invariant in invariants:
                print(f"* {invariant}")
                for (name, fingerprint), (detail, ops) in self.findings.items():
                    if name != invariant:
                        continue
                    first = min(ops, key=lambda o: int(o) if o.isdigit() else 0)
                    print(f"  - {fingerprint}: {len(ops)} operation(s); first {self.describe(first)}")
                    print(f"      {detail[:600]}")
            print(f"replay with {self.env_prefix}_SEED={self.seed}")
            sys.exit(1)
        print(f"PASS: seed {self.seed}: {counts[0]} random operations, every invariant held after each of {batch} "
              f"batches")
