#!/usr/bin/env bash
# The whole test suite: quality gates (ruff, pylint-odoo, in the background), pure-Python tests,
# then the add-on's tests (browser tours included) under both runners: pytest-odoo on a fresh copy of
# the installed database, against this script's mail stack, then Odoo's own runner (odoo-bin
# --test-enable) on a database it creates, with a plain odoo.conf and the tests starting what they
# need themselves; last, a search for any test password in the logs, the output and the dumps.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/bootstrap.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

DB=${MCL_TEST_DB:-mcl_test}
STACK=$MCL_STACKS/mailstack-test
STACK_PORT_BASE=${MCL_TEST_PORT_BASE:-20000}
CONF=$MCL_RUN/odoo-test.conf
LOG=$MCL_RUN/test-odoo.log
BIN_DB=${DB}_odoo_bin
BIN_CONF=$MCL_RUN/odoo-test-odoo-bin.conf
BIN_LOG=$MCL_RUN/test-odoo-bin.log
# Every test password contains this marker: no log, output or dump of the run may show it.
MCL_TEST_SECRET=mcl$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export MCL_MAILSTACK_DIR=$STACK MCL_MAILSTACK_PORT_BASE=$STACK_PORT_BASE MCL_TEST_SECRET
declare -a summary=()
status=0

section() { echo; echo "==> $*"; }
record() {  # record NAME EXIT_CODE
    if [ "$2" -eq 0 ]; then summary+=("ok      $1"); else summary+=("FAILED  $1"); status=1; fi
}
no_skips() {  # no_skips JUNIT_XML NAME: a skipped test is a failure here
    local skipped
    skipped=$("$ODOO_PY" -c 'import sys, xml.etree.ElementTree as ET
print(sum(int(s.get("skipped", 0)) for s in ET.parse(sys.argv[1]).iter("testsuite")))' "$1" 2>/dev/null || echo missing)
    if [ "$skipped" = "0" ]; then record "$2: nothing skipped" 0; else record "$2: $skipped skipped" 1; fi
}
cleanup() {
    if [ -n "${lint_pid:-}" ]; then kill "$lint_pid" 2>/dev/null || true; fi
    "$ODOO_PY" "$MCL_ROOT/scripts/mailstack" stop --dir "$STACK" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cd "$MCL_ROOT"
# The quality gates run on the second core while the tests run; their output is shown at the end.
lint() {
    local rc=0
    "$MCL_VENV/bin/ruff" check . > "$MCL_RUN/ruff.log" 2>&1 || rc=1
    echo $rc > "$MCL_RUN/ruff.rc"; rc=0
    "$MCL_VENV/bin/pylint" --rcfile=.pylintrc-mandatory mcl_mailbox mcl_mailbox_demo > "$MCL_RUN/pylint.log" 2>&1 || rc=1
    echo $rc > "$MCL_RUN/pylint.rc"
}
mkdir -p "$MCL_RUN" && rm -f "$MCL_RUN"/ruff.rc "$MCL_RUN"/pylint.rc
lint &
lint_pid=$!

section "local mail stack"
# A stack that a killed run left running is stopped first: every run starts afresh.
"$ODOO_PY" "$MCL_ROOT/scripts/mailstack" stop --dir "$STACK" | grep -v 'was not running' || true
"$ODOO_PY" "$MCL_ROOT/scripts/mailstack" start --dir "$STACK" --port-base "$STACK_PORT_BASE"

section "tests without Odoo (tests/)"
"$ODOO_PY" -m pytest -p no:odoo tests --junitxml="$MCL_RUN/junit-tests.xml" && rc=0 || rc=$?
record "tests/ (pytest)" $rc
no_skips "$MCL_RUN/junit-tests.xml" "tests/"

section "fresh database $DB with mcl_mailbox"
# The install is kept as a template database, reused while the add-on and Odoo are unchanged;
# every run still gets a fresh copy of it (the Python tests are not part of the install, so they do
# not count). The filestore lives outside the clone for that reason.
DATA_DIR=$MCL_CACHE/test-data
write_odoo_conf "$CONF" "$DB" "${MCL_TEST_HTTP_PORT:-8169}" "$STACK" "$DATA_DIR"
TEMPLATE=${DB}_template
source_hash=$( (cd "$MCL_ROOT" && find mcl_mailbox -type f ! -path 'mcl_mailbox/tests/*' ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
    | sort -z | xargs -0 sha1sum; sha1sum "$ODOO_HOME/odoo/release.py" requirements-dev.txt) | sha1sum | cut -c1-16)
filestore() { echo "$DATA_DIR/filestore/$1"; }
drop_db() { dropdb --if-exists "$1"; rm -rf "$(filestore "$1")"; }
if [ "$(psql -X -d postgres -Atc "select shobj_description(oid, 'pg_database') from pg_database where datname='$TEMPLATE'")" != "$source_hash" ]; then
    drop_db "$TEMPLATE"
    if ! "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$CONF" -d "$TEMPLATE" -i mcl_mailbox --without-demo=all \
            --stop-after-init --logfile="$LOG" --log-level=warn; then
        drop_db "$TEMPLATE"
        echo "error: installing mcl_mailbox failed; see $LOG" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    psql -X -q -d postgres -c "comment on database \"$TEMPLATE\" is '$source_hash'"
else
    echo "mcl_mailbox unchanged since the last install: copying the template database $TEMPLATE"
fi
drop_db "$DB"
createdb -T "$TEMPLATE" "$DB"
mkdir -p "$(filestore "$DB")" && cp -a "$(filestore "$TEMPLATE")/." "$(filestore "$DB")/" 2>/dev/null || true

section "add-on tests (pytest-odoo, tours on Chromium)"
# Odoo logs at DEBUG level into $LOG, which is then searched for the test passwords.
set +e
"$ODOO_PY" -m pytest --odoo-config="$CONF" --odoo-http --odoo-log-level=debug --odoo-extra="logfile=$LOG" \
    --junitxml="$MCL_RUN/junit-odoo.xml" mcl_mailbox/tests "$@" 2>&1 | tee "$MCL_RUN/test-output.log"
rc=${PIPESTATUS[0]}; set -e; record "mcl_mailbox/tests (pytest-odoo)" $rc
no_skips "$MCL_RUN/junit-odoo.xml" "mcl_mailbox/tests"
# The tests that ran (a <testcase> each): the "tests" attribute of pytest's report can count more.
pytest_count=$("$ODOO_PY" -c 'import sys, xml.etree.ElementTree as ET
print(sum(1 for _case in ET.parse(sys.argv[1]).iter("testcase")))' "$MCL_RUN/junit-odoo.xml" 2>/dev/null || echo missing)

section "add-on tests (odoo-bin --test-enable, as OCA CI and runbot run them)"
# A database odoo-bin creates and installs (Odoo's demo data included), an odoo.conf without any
# mcl_mailbox option, and no variable naming a mail stack: the tests start their own stack, trust its
# CA and make a key themselves. Odoo logs at DEBUG level; its log is searched for the test passwords.
odoo_bin_tests() {
    local bin_rc final skipped failed errors ran rc
    drop_db "$BIN_DB"
    : > "$BIN_LOG"  # Odoo appends to its log file: this run's only
    write_plain_odoo_conf "$BIN_CONF" "$BIN_DB" "${MCL_TEST_HTTP_PORT:-8169}" "$DATA_DIR"
    set +e
    env -u MCL_MAILSTACK_DIR -u MCL_MAILSTACK_PORT_BASE -u MCL_MAILBOX_KEYS -u MCL_MAILBOX_CA_FILE \
            -u MCL_MAILBOX_ALLOW_PRIVATE_HOSTS -u MCL_MAILBOX_DNS \
        "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$BIN_CONF" -d "$BIN_DB" -i mcl_mailbox --test-enable \
            --test-tags /mcl_mailbox --stop-after-init --log-level=debug --logfile="$BIN_LOG"
    bin_rc=$?
    # Odoo's last word: "N failed, N error(s) of N tests when loading database '...'"
    final=$(grep -E "odoo\.tests\.result: [0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests when loading database '$BIN_DB'" \
        "$BIN_LOG" | tail -n 1)
    skipped=$(grep -cE " odoo\.addons\.mcl_mailbox\.tests\.[A-Za-z0-9_.]+: skipped " "$BIN_LOG")
    bin_stack=$(sed -nE 's/.* odoo\.addons\.mcl_mailbox\.tests\.common: local mail stack in ([^,]+), ports .*/\1/p' \
        "$BIN_LOG" | tail -n 1)
    set -e
    if [ -z "$final" ]; then
        echo "odoo-bin (exit $bin_rc) logged no test result; the end of $BIN_LOG:" >&2
        tail -n 40 "$BIN_LOG" >&2
        record "mcl_mailbox/tests (odoo-bin): no result, exit $bin_rc" 1
        return
    fi
    read -r failed errors ran <<<"$(sed -E 's/.*: ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests .*/\1 \2 \3/' <<<"$final")"
    # What failed, in short (the tracebacks are in the log).
    grep -E "^[0-9-]+ [0-9:,]+ [0-9]+ ERROR [^ ]+ odoo\.(addons\.mcl_mailbox\.tests|tests)[^ ]*: (ERROR|FAIL):" "$BIN_LOG" \
        | cut -c1-300 | head -n 40 || true
    echo "odoo-bin: $failed failed, $errors error(s) of $ran tests, $skipped skipped, exit $bin_rc (log: $BIN_LOG)"
    rc=1; if [ "$bin_rc" -eq 0 ] && [ "$failed" = 0 ] && [ "$errors" = 0 ]; then rc=0; fi
    record "mcl_mailbox/tests (odoo-bin): $failed failed, $errors errors of $ran tests, exit $bin_rc" $rc
    rc=1; if [ "$skipped" = 0 ]; then rc=0; fi
    record "mcl_mailbox/tests (odoo-bin): $skipped skipped" $rc
    rc=1; if [ "$ran" = "$pytest_count" ]; then rc=0; fi
    record "odoo-bin ran as many tests as pytest-odoo ($ran and $pytest_count)" $rc
}
bin_stack=
if [ $# -eq 0 ]; then
    odoo_bin_tests
else  # a selection (pytest's -k ...) is no full run: say so
    echo "not run: pytest-odoo ran a selection ($*)"
    record "mcl_mailbox/tests (odoo-bin): not run, pytest-odoo ran a selection" 1
fi

wait "$lint_pid" || true
section "ruff"
cat "$MCL_RUN/ruff.log"; record ruff "$(cat "$MCL_RUN/ruff.rc" 2>/dev/null || echo 1)"
section "pylint-odoo (OCA mandatory checks)"
cat "$MCL_RUN/pylint.log"; record pylint-odoo "$(cat "$MCL_RUN/pylint.rc" 2>/dev/null || echo 1)"

section "install steps of the README (plain odoo-bin database with Odoo's demo data)"
# scripts/check_install.sh: requirements.txt, genkey into odoo.conf, -i mcl_mailbox, with and without a key.
MCL_INSTALL_DB=${MCL_INSTALL_DB:-${DB}_install} bash "$here/check_install.sh" && rc=0 || rc=$?
record "install steps (README)" $rc

section "no test password in logs, output or database dump"
bin_stack_logs=()
if [ -n "$bin_stack" ]; then bin_stack_logs=("$bin_stack/servers.log" "$bin_stack/dovecot.log"); fi
if grep -l "$MCL_TEST_SECRET" "$LOG" "$MCL_RUN/test-output.log" "$STACK/servers.log" "$STACK/dovecot.log" \
        "$BIN_LOG" "${bin_stack_logs[@]}" 2>/dev/null \
        || pg_dump "$DB" | grep -q "$MCL_TEST_SECRET" || pg_dump "$BIN_DB" | grep -q "$MCL_TEST_SECRET"; then
    record "no clear password anywhere" 1
else
    record "no clear password anywhere (marker $MCL_TEST_SECRET)" 0
fi

section "summary"
printf '  %s\n' "${summary[@]}"
exit $status
