#!/usr/bin/env bash
# Export mcl_mailbox's translatable terms with Odoo's own exporter, merge them into fr.po
# and list what is left to translate.
#
#   bash scripts/i18n_export.sh            # or: make pot
#   bash scripts/i18n_export.sh --fresh    # reinstall the module in its database first
#   bash scripts/i18n_export.sh --strict   # exit 1 when an entry of fr.po is untranslated or fuzzy
#
# It works in its own database (MCL_I18N_DB, default mcl_i18n; never the test or demo ones):
# installs mcl_mailbox there the first time, updates it (-u) afterwards, and reinstalls it when
# a noupdate data file changed (-u does not reload noupdate records such as the provider presets).
# Then it writes mcl_mailbox/i18n/mcl_mailbox.pot (kept as is when only its date would change),
# merges new msgids into mcl_mailbox/i18n/fr.po (msgmerge --no-fuzzy-matching, obsolete entries
# dropped) and prints the entries of fr.po that still need a translation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
source "$here/env.sh"

fresh=0 strict=0
for arg in "$@"; do
    case $arg in
        --fresh) fresh=1 ;;
        --strict) strict=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done

MODULE=mcl_mailbox
DB=${MCL_I18N_DB:-mcl_i18n}
case $DB in
    mcl_test|mcl_demo|mcl_scratch) echo "error: $DB belongs to the tests or the demo; pick another MCL_I18N_DB" >&2; exit 2 ;;
esac
CONF=$MCL_RUN/odoo-i18n.conf
LOG=$MCL_RUN/i18n-odoo.log
STAMP=$MCL_RUN/i18n-$DB.noupdate.sha256
I18N=$MCL_ROOT/$MODULE/i18n
POT=$I18N/$MODULE.pot
PO=$I18N/fr.po
start=$SECONDS

[ -x "$ODOO_PY" ] || bash "$here/bootstrap.sh"
write_odoo_conf "$CONF" "$DB" "${MCL_I18N_HTTP_PORT:-8369}" "$MCL_STACKS/mailstack-test"
mkdir -p "$I18N"
: > "$LOG"

odoo() { "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$CONF" -d "$DB" --logfile="$LOG" --log-level=warn "$@"; }
installed() {
    psql -d "$DB" -Atc "SELECT 1 FROM ir_module_module WHERE name = '$MODULE' AND state = 'installed'" \
        2>/dev/null | grep -q 1
}
noupdate_fingerprint() {  # the XML files holding noupdate records, by content
    (cd "$MCL_ROOT" && grep -rlZ --include='*.xml' --exclude-dir=demo --exclude-dir=tests 'noupdate="1"' "$MODULE" | sort -z | xargs -0 sha256sum)
}

# 1. The module, up to date, in its own database.
fingerprint=$(noupdate_fingerprint)
if [ $fresh -eq 0 ] && installed && [ "$fingerprint" = "$(cat "$STAMP" 2>/dev/null)" ]; then
    echo "==> updating $MODULE in database $DB"
    action=(-u "$MODULE")
else
    echo "==> installing $MODULE in a fresh database $DB (first run, --fresh, or noupdate data changed)"
    dropdb --if-exists "$DB"
    rm -f "$STAMP"
    action=(-i "$MODULE")
fi
if ! odoo "${action[@]}" --without-demo=all --stop-after-init; then
    echo "error: Odoo could not install/update $MODULE; see $LOG" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi
printf '%s\n' "$fingerprint" > "$STAMP"

# 2. The template, by Odoo's exporter (no -l: a .pot with empty msgstr).
echo "==> exporting $POT"
tmp=$(mktemp --suffix=.pot)
trap 'rm -f "$tmp"' EXIT
if ! odoo --i18n-export="$tmp" --modules="$MODULE" --stop-after-init; then
    echo "error: the export failed; see $LOG" >&2
    tail -n 30 "$LOG" >&2
    exit 1
fi
undated() { grep -v -e '^"POT-Creation-Date:' -e '^"PO-Revision-Date:' "$1"; }
if [ -f "$POT" ] && cmp -s <(undated "$tmp") <(undated "$POT"); then
    echo "    no change in the terms"
else
    cp "$tmp" "$POT"
fi

# 3. fr.po: new msgids in, obsolete ones out.
if command -v msgmerge >/dev/null && command -v msgattrib >/dev/null; then
    :
elif [ "$(id -u)" -eq 0 ]; then
    echo "==> installing gettext"
    apt-get install -y gettext >/dev/null || { apt-get update >/dev/null && apt-get install -y gettext >/dev/null; }
else
    echo "warning: gettext is missing, fr.po is not merged; install it with:" >&2
    echo "    sudo apt-get install -y gettext" >&2
fi
if command -v msgmerge >/dev/null; then
    echo "==> merging into $PO"
    if [ ! -f "$PO" ]; then
        msginit --no-translator --no-wrap --locale=fr --input="$POT" --output-file="$PO" >/dev/null 2>&1
    fi
    msgmerge --quiet --update --no-fuzzy-matching --backup=none "$PO" "$POT"
    msgattrib --no-obsolete --output-file="$PO" "$PO"
    msgfmt --check-format --check-header --output-file=/dev/null "$PO"
fi

# 4. What is left to translate.
rc=0
"$ODOO_PY" - "$POT" "$PO" "$strict" <<'PY' || rc=$?
import os
import sys

import polib

pot_path, po_path, strict = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
pot = [entry for entry in polib.pofile(pot_path) if not entry.obsolete]
po = {}
if os.path.exists(po_path):
    po = {entry.msgid: entry for entry in polib.pofile(po_path) if not entry.obsolete}
todo = [entry.msgid for entry in pot
        if entry.msgid not in po or not po[entry.msgid].msgstr.strip() or "fuzzy" in po[entry.msgid].flags]
print(f"==> {len(pot)} entries in the template, {len(pot) - len(todo)} translated in fr.po, {len(todo)} to do")
for msgid in todo:
    print("    - " + msgid.replace("\n", "\\n")[:150])
if todo:
    print("    translate them in mcl_mailbox/i18n/fr.po (msgstr), then run tests/test_translations.py")
sys.exit(1 if strict and todo else 0)
PY
echo "==> done in $((SECONDS - start)) s"
exit $rc
