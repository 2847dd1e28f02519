#!/usr/bin/env bash
# `make faults`: 200 invoices sent from the list through a personal mailbox while its SMTP server hangs,
# then vanishes; Odoo with two HTTP workers and two cron threads, Debian's wkhtmltopdf. Fails unless
# each invoice reaches its patient exactly once, by itself, within the bound scripts/faults.py prints.
#   - its own mail stack ($MCL_STACKS/mailstack-faults, port base 25000) and database (mcl_faults);
#   - MCL_FAULTS_INVOICES (default 200) invoices.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/bootstrap.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

STACK=$MCL_STACKS/mailstack-faults
PORT_BASE=${MCL_FAULTS_PORT_BASE:-25000}
DB=${MCL_FAULTS_DB:-mcl_faults}
HTTP_PORT=${MCL_FAULTS_HTTP_PORT:-8669}
MAILSTACK=("$ODOO_PY" "$MCL_ROOT/scripts/mailstack")
cleanup() { "${MAILSTACK[@]}" stop --dir "$STACK" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

"${MAILSTACK[@]}" stop --dir "$STACK" >/dev/null 2>&1 || true
"${MAILSTACK[@]}" start --dir "$STACK" --port-base "$PORT_BASE" >/dev/null
mkdir -p "$MCL_RUN"
write_odoo_conf "$MCL_RUN/odoo-faults.conf" "$DB" "$HTTP_PORT" "$STACK" "$MCL_CACHE/faults-data"
"$ODOO_PY" "$MCL_ROOT/scripts/faults.py" --odoo-home "$ODOO_HOME" --stack "$STACK" --port-base "$PORT_BASE" \
    --db "$DB" --conf "$MCL_RUN/odoo-faults.conf" --http-port "$HTTP_PORT" --run-dir "$MCL_RUN" \
    --invoices "${MCL_FAULTS_INVOICES:-200}"
