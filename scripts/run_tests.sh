#!/usr/bin/env bash
# The whole test suite: quality gates, pure-Python tests, then the add-on's tests
# (pytest-odoo, browser tours included) on a fresh database, against the local mail stack.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/bootstrap.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

DB=${MCL_TEST_DB:-mcl_test}
STACK=$MCL_RUN/mailstack-test
STACK_PORT_BASE=${MCL_TEST_PORT_BASE:-20000}
CONF=$MCL_RUN/odoo-test.conf
LOG=$MCL_RUN/test-odoo.log
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
    "$ODOO_PY" "$MCL_ROOT/scripts/mailstack" stop --dir "$STACK" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cd "$MCL_ROOT"
section "ruff"
"$MCL_VENV/bin/ruff" check . && rc=0 || rc=$?; record ruff $rc
section "pylint-odoo (OCA mandatory checks)"
"$MCL_VENV/bin/pylint" --rcfile=.pylintrc-mandatory mcl_mailbox && rc=0 || rc=$?; record pylint-odoo $rc

section "local mail stack"
"$ODOO_PY" "$MCL_ROOT/scripts/mailstack" start --dir "$STACK" --port-base "$STACK_PORT_BASE"

section "tests without Odoo (tests/)"
"$ODOO_PY" -m pytest -p no:odoo tests --junitxml="$MCL_RUN/junit-tests.xml" && rc=0 || rc=$?
record "tests/ (pytest)" $rc
no_skips "$MCL_RUN/junit-tests.xml" "tests/"

section "fresh database $DB with mcl_mailbox"
write_odoo_conf "$CONF" "$DB" "${MCL_TEST_HTTP_PORT:-8169}" "$STACK"
dropdb --if-exists "$DB"
if ! "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$CONF" -d "$DB" -i mcl_mailbox --without-demo=all \
        --stop-after-init --logfile="$LOG" --log-level=warn; then
    dropdb --if-exists "$DB"
    echo "error: installing mcl_mailbox failed; see $LOG" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi

section "add-on tests (pytest-odoo, tours on Chromium)"
# Odoo logs at DEBUG level into $LOG, which is then searched for the test passwords.
set +e
"$ODOO_PY" -m pytest --odoo-config="$CONF" --odoo-http --odoo-log-level=debug --odoo-extra="logfile=$LOG" \
    --junitxml="$MCL_RUN/junit-odoo.xml" mcl_mailbox/tests "$@" 2>&1 | tee "$MCL_RUN/test-output.log"
rc=${PIPESTATUS[0]}; set -e; record "mcl_mailbox/tests (pytest-odoo)" $rc
no_skips "$MCL_RUN/junit-odoo.xml" "mcl_mailbox/tests"

section "no test password in logs, output or database dump"
if grep -l "$MCL_TEST_SECRET" "$LOG" "$MCL_RUN/test-output.log" "$STACK/servers.log" "$STACK/dovecot.log" \
        2>/dev/null || pg_dump "$DB" | grep -q "$MCL_TEST_SECRET"; then
    record "no clear password anywhere" 1
else
    record "no clear password anywhere (marker $MCL_TEST_SECRET)" 0
fi

section "summary"
printf '  %s\n' "${summary[@]}"
exit $status
