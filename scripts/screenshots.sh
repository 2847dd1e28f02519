#!/usr/bin/env bash
# `make screenshots`: the French documentation's screenshots (docs/fr/img/*.png), taken by
# Chromium from the real UI in French (mcl_mailbox/tests/screenshots_fr.py and its tours).
#   - a database of its own, mcl_doc, with French installed: created the first time,
#     updated (-u mcl_mailbox) afterwards; MCL_DOC_RESET=1 recreates it;
#   - a mail stack of its own in $MCL_STACKS/mailstack-doc (ports 21000+), stopped at the end;
#   - the images are written to a scratch directory and replace docs/fr/img/NN-*.png only
#     when every screen was captured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/bootstrap.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

DB=${MCL_DOC_DB:-mcl_doc}
HTTP_PORT=${MCL_DOC_HTTP_PORT:-8769}
STACK=$MCL_STACKS/mailstack-doc
STACK_PORT_BASE=${MCL_DOC_PORT_BASE:-21000}
CONF=$MCL_RUN/odoo-doc.conf
LOG=$MCL_RUN/doc-odoo.log
OUT=${MCL_SCREENSHOTS_OUT:-$MCL_ROOT/docs/fr/img}
MAILSTACK=("$ODOO_PY" "$MCL_ROOT/scripts/mailstack")

die() { echo "error: $*" >&2; exit 1; }
step() { echo "==> $*"; }

port_free "$HTTP_PORT" || die "port $HTTP_PORT is in use: free it or choose another, e.g. MCL_DOC_HTTP_PORT=8770 make screenshots"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/mcl-screenshots.XXXXXX")
cleanup() {
    "${MAILSTACK[@]}" stop --dir "$STACK" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

step "mail stack for the screenshots ($STACK, ports $STACK_PORT_BASE+)"
"${MAILSTACK[@]}" stop --dir "$STACK" >/dev/null 2>&1 || true
"${MAILSTACK[@]}" start --dir "$STACK" --port-base "$STACK_PORT_BASE" >/dev/null \
    || die "the mail stack did not start (above)"
export MCL_MAILSTACK_DIR=$STACK MCL_MAILSTACK_PORT_BASE=$STACK_PORT_BASE

write_odoo_conf "$CONF" "$DB" "$HTTP_PORT" "$STACK"
installed=$(psql -X -q -d "$DB" -Atc "select state from ir_module_module where name='mcl_mailbox'" 2>/dev/null || true)
if [ "${MCL_DOC_RESET:-0}" = 1 ] || [ "$installed" != installed ]; then
    step "database $DB: mcl_mailbox and French, no demo data (first run: a few minutes)"
    dropdb --if-exists "$DB"
    mode=(-i mcl_mailbox --without-demo=all)
else
    step "database $DB: updating mcl_mailbox"
    mode=(-u mcl_mailbox)
fi
if ! "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$CONF" -d "$DB" "${mode[@]}" --load-language=fr_FR \
        --stop-after-init --logfile="$LOG" --log-level=warn; then
    tail -n 30 "$LOG" >&2
    die "preparing the database $DB failed; see $LOG"
fi

step "screenshots (Chromium, French user interface)"
MCL_SCREENSHOTS_DIR=$scratch "$ODOO_PY" -m pytest -p no:cacheprovider --odoo-config="$CONF" --odoo-http \
    --odoo-extra="logfile=$LOG" -q mcl_mailbox/tests/screenshots_fr.py \
    || die "taking the screenshots failed; docs/fr/img is unchanged (log: $LOG)"

mkdir -p "$OUT"
rm -f "$OUT"/[0-9][0-9]-*.png
mv "$scratch"/*.png "$OUT"/
step "screenshots in ${OUT#"$MCL_ROOT"/}:"
ls -1 "$OUT"/[0-9][0-9]-*.png | sed "s|^$MCL_ROOT/|  |"
