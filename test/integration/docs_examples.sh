#!/usr/bin/env bash
# The SQL the documentation shows, run as a reader would paste it: every
# ```sql block of README.md and docs/ (the README's tour among them), each
# file's blocks in order in a database of their own on a cluster that has
# the API roles (as Supabase has). Setup is shown, in the blocks, as the
# reader sees it: an HTML comment holding SQL to run (invisible on GitHub)
# fails the test. A block may be preceded by `<!-- not run: why -->`.
# Annotations check what the docs promise:
#   -- ERROR 23514      this statement fails with that SQLSTATE
#   -- gives: text      its output contains text
# Any error not annotated fails the test, so an example that stops working
# fails the build.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

work=$(mktemp -d /tmp/iam_ext_docs.XXXXXX)
trap 'rm -rf "$work"' EXIT
sql -d postgres -o /dev/null -f "$IAM_ROOT/test/fixtures/supabase_roles.sql"

# blocks FILE: the file's runnable SQL, with "\echo @@mark N" after the Nth
# annotated line; the annotations, one per line ("N|ERROR|23514" or
# "N|gives|text"), go to FILE's .expect.
blocks() {
    awk -v expect="$2" '
        /^<!-- not run:/ { skip = 1; next }
        /^```sql[[:space:]]*$/ { if (skip) { skip = 2 } else { inside = 1 }; next }
        /^```/ { if (skip == 2) skip = 0; inside = 0; next }
        inside {
            print
            if (match($0, /-- ERROR [0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]/)) {
                n++; print "\\echo @@mark " n; print n "|ERROR|" substr($0, RSTART + 9, 5) >expect
            } else if (match($0, /-- gives: .*/)) {
                n++; print "\\echo @@mark " n; print n "|gives|" substr($0, RSTART + 10) >expect
            }
        }
        /^./ && !inside && skip != 2 { skip = skip == 1 ? 1 : 0 }' "$1"
}

failures=0 files=0 checked=0
for doc in "$IAM_ROOT"/README.md "$IAM_ROOT"/docs/*.md "$IAM_ROOT"/docs/reports/*.md; do
    name=$(realpath --relative-to="$IAM_ROOT" "$doc")
    script="$work/$(echo "$name" | tr / _).sql" expect="$script.expect"
    : >"$expect"
    if grep -n '^<!-- run first' "$doc"; then
        echo "FAIL: $name hides setup in an HTML comment: show it in the block"; failures=$((failures + 1)); continue
    fi
    blocks "$doc" "$expect" >"$script"
    grep -qv '^[[:space:]]*$' "$script" || continue
    files=$((files + 1))
    db="docs_$files"
    createdb "$db"
    output_file="$script.out"
    psql -X -q -d "$db" -v VERBOSITY=sqlstate -f "$script" >"$output_file" 2>&1 || true
    # Each mark closes the output of the statements since the previous one.
    # Each mark closes the output of the statements since the previous one;
    # "gives" matches a whole output line, spaces collapsed.
    problems=$(awk -F'|' '
        function norm(text) { gsub(/[ \t]+/, " ", text); sub(/^ /, "", text); sub(/ $/, "", text); return text }
        FILENAME == ARGV[1] { kind[$1] = $2; want[$1] = norm(substr($0, length($1 "|" $2 "|") + 1)); next }
        /ERROR:/ { errors++ }
        /^@@mark [0-9]+$/ {
            m = substr($0, 8); seen[m] = 1
            if (kind[m] == "ERROR" && index(segment, "ERROR: " want[m]) == 0)
                print "annotation " m ": expected ERROR " want[m] ", got:" segment
            if (kind[m] == "gives" && index(segment "\n", "\n" want[m] "\n") == 0)
                print "annotation " m ": expected a line \"" want[m] "\", got:" segment
            segment = ""; next
        }
        { segment = segment "\n" norm($0) }
        END {
            for (m in kind) { if (!seen[m]) print "annotation " m " (" kind[m] " " want[m] ") was never reached"
                              if (kind[m] == "ERROR") expected_errors++ }
            if (errors + 0 != expected_errors + 0) print errors + 0 " errors where the docs expect " expected_errors + 0
        }' "$expect" "$output_file")
    annotations=$(wc -l <"$expect")
    checked=$((checked + annotations))
    if [ -n "$problems" ]; then
        echo "FAIL: $name"; echo "$problems" | sed 's/^/    /'; sed 's/^/    | /' "$output_file"
        failures=$((failures + 1))
    else
        echo "  ok: $name ($(grep -c '' "$script") lines, $annotations annotations)"
    fi
    dropdb "$db"
done
[ "$failures" -eq 0 ] || exit 1
echo "PASS: the SQL of $files documents runs as written ($checked annotated results)"
