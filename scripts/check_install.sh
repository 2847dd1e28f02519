#!/usr/bin/env bash
# The README's "Install in your Odoo" steps, run as a newcomer runs them, on a database created by
# plain odoo-bin (`-i base`, with Odoo's demo data) and a configuration that has nothing but those
# steps: the folder on addons_path, `pip install -r requirements.txt` (checked against the project's
# virtualenv, without a download), the key from `odoo-bin mcl_mailbox genkey` written into odoo.conf,
# `-i mcl_mailbox`. Then: the install log has no warning or error from mcl_mailbox (nor "demo data
# failed to install"), the module is installed with its demo flag kept, and `odoo-bin shell` stores a
# password and reads it back, encrypted with the configured key. Variant: the same install with no key
# configured succeeds without a warning, and a password is then refused, not stored.
# Both installs run side by side on copies of one base database; everything is dropped at the end.
# Usage: scripts/check_install.sh   (MCL_INSTALL_DB names the databases, default mcl_install)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
source "$here/env.sh"
# A newcomer's Odoo reads the add-on's options from odoo.conf alone.
unset MCL_MAILBOX_KEYS MCL_MAILBOX_CA_FILE MCL_MAILBOX_DNS MCL_MAILBOX_ALLOW_PRIVATE_HOSTS

DB=${MCL_INSTALL_DB:-mcl_install}
DB_NOKEY=${DB}_nokey
HTTP_PORT=${MCL_INSTALL_HTTP_PORT:-8269}
ODOO_BIN=$ODOO_HOME/odoo-bin
ADDONS_PATH=$ODOO_ADDONS,$MCL_ROOT
LOGS=$MCL_RUN/install-check
WORK=$(mktemp -d /tmp/mcl_mailbox-install.XXXXXX)  # the configurations (one holds the key): never kept
mkdir -p "$LOGS" && rm -f "$LOGS"/*.log
failures=0
started=$SECONDS

step() { echo "--- $*"; }
ok() { echo "ok      $*"; }
fail() { echo "FAILED  $*" >&2; failures=$((failures + 1)); }
odoo() { "$ODOO_PY" "$ODOO_BIN" "$@"; }
drop_db() { dropdb --if-exists "$1" 2>/dev/null || true; }
cleanup() {
    local pid
    for pid in ${pids:-}; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    drop_db "$DB"; drop_db "$DB_NOKEY"
    rm -rf "$WORK"
}
trap cleanup EXIT
drop_db "$DB"; drop_db "$DB_NOKEY"
cd "$MCL_ROOT"

step "the README's section holds the commands run here"
section=$(awk '/^## Install in your Odoo/ {on = 1; next} on && /^## / {exit} on' README.md)
for command in "addons_path = " "pip install -r " "requirements.txt" "apt-get install wkhtmltopdf fonts-lato" \
        "mcl_mailbox genkey" "mcl_mailbox_keys = " "-i mcl_mailbox"; do
    if grep -qF -- "$command" <<<"$section"; then ok "README: $command"; else fail "README's 'Install in your Odoo' has no '$command'"; fi
done

step "requirements.txt: the manifest's external_dependencies, compatible with Odoo's pins, installed"
if "$ODOO_PY" - "$MCL_ROOT/requirements.txt" "$MCL_ROOT/mcl_mailbox/__manifest__.py" "$ODOO_HOME/requirements.txt" <<'PY'
import ast, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as name

def requirements(path):
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            yield Requirement(line)

ours = {name(req.name): req for req in requirements(sys.argv[1])}
wanted = {name(package) for package in ast.literal_eval(open(sys.argv[2], encoding="utf-8").read())["external_dependencies"]["python"]}
problems = []
if set(ours) != wanted:
    problems.append(f"requirements.txt lists {sorted(ours)}, the manifest {sorted(wanted)}")
for pin in requirements(sys.argv[3]):  # every pin of Odoo's, whatever its Python marker
    ours_req = ours.get(name(pin.name))
    for spec in pin.specifier if ours_req else ():
        if spec.operator == "==" and not ours_req.specifier.contains(spec.version, prereleases=True):
            problems.append(f"Odoo pins {pin.name}=={spec.version} ({pin.marker}), outside requirements.txt's {ours_req}")
print("\n".join(problems) or "requirements.txt matches the manifest and every pin of Odoo's requirements.txt")
sys.exit(bool(problems))
PY
then ok "requirements.txt"; else fail "requirements.txt"; fi
# The README's pip step, without a download: everything must already be there and resolve together.
if pip_out=$("$MCL_VENV/bin/pip" install --dry-run --no-index --disable-pip-version-check -r requirements.txt 2>&1) \
        && ! grep -q "^Would install" <<<"$pip_out" && "$MCL_VENV/bin/pip" check >/dev/null; then
    ok "pip install -r requirements.txt: satisfied in $MCL_VENV, pip check clean"
else
    fail "pip install -r requirements.txt does not resolve in $MCL_VENV:"; echo "$pip_out" >&2
fi
for package in wkhtmltopdf fonts-lato; do
    if dpkg -s "$package" >/dev/null 2>&1; then ok "Debian package $package"; else fail "Debian package $package is not installed"; fi
done

step "a database as plain odoo-bin makes it (-i base, Odoo's demo data)"
# The newcomer's odoo.conf: their own options, and the add-on's folder on addons_path (step 1).
CONF=$WORK/odoo.conf CONF_NOKEY=$WORK/odoo-nokey.conf
(umask 077; cat > "$CONF" <<CONF
[options]
addons_path = $ADDONS_PATH
data_dir = $WORK/data
http_interface = 127.0.0.1
http_port = $HTTP_PORT
gevent_port = $((HTTP_PORT + 3))
CONF
)
cp "$CONF" "$CONF_NOKEY"
if ! odoo -c "$CONF" -d "$DB" -i base --stop-after-init --logfile="$LOGS/base.log"; then
    tail -n 30 "$LOGS/base.log" >&2; fail "odoo-bin -i base"; exit 1
fi
demo=$(psql -X -d "$DB" -Atc "select demo from ir_module_module where name = 'base'")
if [ "$demo" = t ]; then ok "base installed with Odoo's demo data ($((SECONDS - started)) s)"; else fail "base has no demo data ($demo)"; fi
createdb -T "$DB" "$DB_NOKEY"
if [ -d "$WORK/data/filestore/$DB" ]; then cp -a "$WORK/data/filestore/$DB" "$WORK/data/filestore/$DB_NOKEY"; fi

step "the key, from the add-on's command, into odoo.conf"
key=$(odoo --addons-path="$ADDONS_PATH" mcl_mailbox genkey)
if "$ODOO_PY" -c 'import sys; from cryptography.fernet import Fernet; Fernet(sys.argv[1])' "$key" 2>/dev/null; then
    ok "odoo-bin mcl_mailbox genkey printed a Fernet key"
else
    fail "odoo-bin mcl_mailbox genkey printed no Fernet key"; exit 1
fi
echo "mcl_mailbox_keys = $key" >> "$CONF"
key_id=$("$ODOO_PY" -c 'import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:8])' "$key")

step "odoo-bin -i mcl_mailbox, with the key and without (side by side)"
install_started=$SECONDS
odoo -c "$CONF" -d "$DB" -i mcl_mailbox --stop-after-init --logfile="$LOGS/install.log" & pid_key=$!
odoo -c "$CONF_NOKEY" -d "$DB_NOKEY" -i mcl_mailbox --stop-after-init --logfile="$LOGS/install-nokey.log" & pid_nokey=$!
pids="$pid_key $pid_nokey"
wait "$pid_key" && rc_key=0 || rc_key=$?
wait "$pid_nokey" && rc_nokey=0 || rc_nokey=$?
pids=
echo "    both installs: $((SECONDS - install_started)) s"

# The warnings and errors of an install log that come from mcl_mailbox: its loggers, any line naming
# it (such as Odoo's "Module mcl_mailbox demo data failed to install"), and whatever is logged while
# Odoo loads it (its data files, its demo data, its hooks).
addon_problems() {
    awk '
        / odoo\.modules\.loading: Loading module / { loading = ($0 ~ /Loading module mcl_mailbox \(/) }
        / odoo\.modules\.loading: [0-9]+ modules loaded in / { loading = 0 }
        /^[0-9-]+ [0-9:,]+ [0-9]+ (WARNING|ERROR|CRITICAL) / && (loading || /mcl_mailbox/) { print }
    ' "$1"
}
other_problems() {
    grep -E '^[0-9-]+ [0-9:,]+ [0-9]+ (WARNING|ERROR|CRITICAL) ' "$1" | grep -v mcl_mailbox || true
}
check_install() {  # check_install NAME RC DB LOG
    local name=$1 rc=$2 db=$3 log=$4 problems others state
    if [ "$rc" -eq 0 ]; then ok "$name: odoo-bin exited 0"; else fail "$name: odoo-bin exited $rc (see $log)"; fi
    problems=$(addon_problems "$log")
    if [ -z "$problems" ]; then ok "$name: no warning or error from mcl_mailbox in the log"; else
        fail "$name: the log has warnings or errors from mcl_mailbox:"; echo "$problems" >&2; fi
    others=$(other_problems "$log")
    if [ -n "$others" ]; then echo "    note: other warnings in $log (not the add-on's):"; sed 's/^/    /' <<<"$others" | head -n 10; fi
    state=$(psql -X -d "$db" -Atc "select state || ' demo=' || (case when demo then 't' else 'f' end) from ir_module_module where name = 'mcl_mailbox'")
    if [ "$state" = "installed demo=t" ]; then ok "$name: mcl_mailbox installed, demo data loaded"; else
        fail "$name: mcl_mailbox is '${state:-absent}' (want 'installed demo=t': demo=f means its demo data failed)"; fi
}
check_install "with the key" "$rc_key" "$DB" "$LOGS/install.log"
check_install "without a key" "$rc_nokey" "$DB_NOKEY" "$LOGS/install-nokey.log"

step "odoo-bin shell: a password stored encrypted with that key and read back"
# A personal mailbox of the administrator, as the set-up form saves it; rolled back by the shell.
smoke() {  # smoke CONF DB EXPECTED_KEY_ID (empty: no key configured)
    MCL_EXPECT_KEY_ID=$3 odoo shell -c "$1" -d "$2" --no-http --logfile="$LOGS/shell-$2.log" <<'PY'
import os, secrets
from odoo.exceptions import UserError
expected_key_id = os.environ["MCL_EXPECT_KEY_ID"]
password = "chk" + secrets.token_hex(8)
values = {"name": "Install check", "owner_user_id": env.ref("base.user_admin").id,
          "mcl_email": "install-check@mcl-mailbox.test", "from_filter": "install-check@mcl-mailbox.test",
          "smtp_host": "smtp.mcl-mailbox.test", "smtp_port": 465, "smtp_encryption": "ssl",
          "smtp_user": "install-check@mcl-mailbox.test"}
Servers = env["ir.mail_server"]
if expected_key_id:
    mailbox = Servers.create(dict(values, mcl_password=password))
    env.flush_all()
    env.cr.execute("select mcl_password_token from ir_mail_server where id = %s", [mailbox.id])
    token = env.cr.fetchone()[0] or ""
    assert token.startswith(expected_key_id + ":"), "the stored token is not under the configured key's id"
    assert password not in token, "the password is stored in clear"
    assert mailbox.mcl_has_password and not mailbox.mcl_password, "the password reads back"
    env.invalidate_all()
    assert mailbox._mcl_decrypt_password(*mailbox._mcl_sealed_endpoints()) == password, "decrypted to something else"
    print("MCL_SMOKE_OK stored under key", expected_key_id, "and decrypted")
else:
    try:
        with env.cr.savepoint():
            Servers.create(dict(values, mcl_password=password))
    except UserError as error:
        assert "mcl_mailbox_keys" in str(error), f"refused without saying which option: {error}"
    else:
        raise AssertionError("a password was stored with no key configured")
    assert not Servers.search([("mcl_email", "=", values["mcl_email"])]), "a mailbox was saved"
    print("MCL_SMOKE_OK refused: no key configured")
PY
}
smoke "$CONF" "$DB" "$key_id" > "$WORK/smoke.out" 2>&1 & pid_key=$!
smoke "$CONF_NOKEY" "$DB_NOKEY" "" > "$WORK/smoke-nokey.out" 2>&1 & pid_nokey=$!
pids="$pid_key $pid_nokey"
wait "$pid_key" || true; wait "$pid_nokey" || true
pids=
for variant in "with the key:smoke" "without a key:smoke-nokey"; do
    name=${variant%%:*} out=$WORK/${variant#*:}.out
    if grep -q '^MCL_SMOKE_OK' "$out"; then ok "$name: $(grep '^MCL_SMOKE_OK' "$out" | cut -d' ' -f2-)"; else
        fail "$name: the shell check failed:"; grep -v "^Running as user" "$out" | tail -n 20 >&2; fi
done
shell_warnings=$(cat "$LOGS"/shell-*.log | grep -E '^[0-9-]+ [0-9:,]+ [0-9]+ (WARNING|ERROR|CRITICAL) ' | grep mcl_mailbox || true)
if [ -n "$shell_warnings" ]; then echo "    note: the shell checks logged (not counted as failures):"; sed 's/^/    /' <<<"$shell_warnings" | cut -c1-300; fi

echo "install check: $((SECONDS - started)) s, $failures failure(s); logs in $LOGS"
[ "$failures" -eq 0 ]
