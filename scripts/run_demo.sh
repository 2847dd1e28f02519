#!/usr/bin/env bash
# The demo (`make run`): a French practice whose practitioners send invoices from their
# own mailboxes, on http://localhost:8069, with a local mail stack to read what they send.
#   - prepares everything (scripts/bootstrap.sh), then starts the demo mail stack
#     ($MCL_STACKS/mailstack-demo, ports 10993 IMAPS, 10465 SMTPS, 10587 STARTTLS);
#   - creates the database mcl_demo the first time, without Odoo's demo data, with the add-on
#     mcl_mailbox_demo (the practice: its company in euros with the French chart of accounts, its
#     practitioners and their mailboxes, its patients and invoices; dropped again if that fails:
#     nothing half-made), reuses it afterwards;
#   - starts a small DNS server (127.0.0.1:10053) publishing the practice domain's SRV records,
#     so that Prefill configures the secretary's custom-domain address by itself;
#   - registers the demo application at the stack's identity server (https://localhost:10443), so
#     that Dr Bernard connects her outlook.fr mailbox with "Sign in with Microsoft" (its client id and
#     secret are in mcl_mailbox_demo/data/outlook_demo_data.xml), and pins web.base.url to
#     http://localhost:8069 (MCL_DEMO_HTTP_PORT), where its redirect URI is;
#   - serves Odoo in the foreground; Ctrl-C stops Odoo, the DNS server and the mail stack.
# Extra arguments go to odoo-bin, e.g. `bash scripts/run_demo.sh -u mcl_mailbox`.
# MCL_DEMO_RESET=1 drops and recreates the database.
# `bash scripts/run_demo.sh --stop` (make stop) stops what a killed run left: Odoo and the DNS server
# (by their pid files in .run/, checked against their command lines) and the mail stack.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stop_mode=
if [ "${1:-}" = --stop ]; then stop_mode=1; else bash "$here/bootstrap.sh"; fi
# shellcheck source=scripts/env.sh
source "$here/env.sh"

DB=${MCL_DEMO_DB:-mcl_demo}
HTTP_PORT=${MCL_DEMO_HTTP_PORT:-8069}
STACK=$MCL_STACKS/mailstack-demo
# Fixed: the demo data points the mailboxes at 10993 / 10465 and the practice at 10587.
STACK_PORT_BASE=10000
CONF=$MCL_RUN/odoo-demo.conf
INSTALL_LOG=$MCL_RUN/demo-install.log
ODOO_PIDFILE=$MCL_RUN/demo-odoo.pid
DNS_PIDFILE=$MCL_RUN/demo-dns.pid
MAILSTACK=("$ODOO_PY" "$MCL_ROOT/scripts/mailstack")

# The demo's throw-away mailboxes (the same passwords as in mcl_mailbox_demo/data/ir_mail_server_data.xml).
PRACTICE_USERS=(
    "claire.martin@cabinet-tilleuls.test:martin-demo"
    "marc.dubois@cabinet-tilleuls.test:dubois-demo"
    "noreply@cabinet-tilleuls.test:noreply-demo"
    "secretariat@cabinet-tilleuls.test:secretariat-demo"
    "helene.bernard@outlook.fr:bernard-demo"
)
# The demo application of "Sign in with Microsoft" (the same as Odoo's Outlook credentials in
# mcl_mailbox_demo/data/outlook_demo_data.xml); its redirect URI is on web.base.url.
OAUTH_CLIENT_ID=mcl-demo-practice
OAUTH_CLIENT_SECRET=mcl-demo-practice-secret
# No preset covers the practice's own domain: its DNS publishes the servers (RFC 6186 / 8314 SRV).
DNS_PORT=10053
DNS_RECORDS=(
    "_imaps._tcp.cabinet-tilleuls.test SRV 0 1 10993 localhost."
    "_submissions._tcp.cabinet-tilleuls.test SRV 0 1 10465 localhost."
)
PATIENT_PASSWORD=patient
PATIENTS=(jeanne.petit louis.moreau camille.bernard hugo.lefevre ines.garnier paul.roux)

die() { echo "error: $*" >&2; exit 1; }
step() { echo "==> $*"; }
sql() { psql -X -q -d "$DB" -Atc "$1" 2>/dev/null; }

# ours PID MARKER: PID is alive and its command line holds MARKER (a recycled pid is not ours)
ours() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}
# stop_pid PID MARKER: interrupt PID if it is ours, kill it after 10 s
stop_pid() {
    ours "$1" "$2" || return 1
    kill -INT "$1" 2>/dev/null || true
    for _ in $(seq 100); do ours "$1" "$2" || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true  # reaps it when it is this script's child
}
# forget_pid PIDFILE PID: remove PIDFILE when it still names PID (another run may have rewritten it)
forget_pid() { [ "$(cat "$1" 2>/dev/null)" = "$2" ] && rm -f "$1" || true; }
ODOO_MARKER="-c $CONF "
DNS_MARKER="mailstack.discovery --port $DNS_PORT "

if [ -n "$stop_mode" ]; then  # make stop: what a killed run left
    pid=$(cat "$ODOO_PIDFILE" 2>/dev/null || true)
    if stop_pid "$pid" "$ODOO_MARKER"; then echo "demo Odoo (pid $pid): stopped"; fi
    rm -f "$ODOO_PIDFILE"
    pid=$(cat "$DNS_PIDFILE" 2>/dev/null || true)
    if stop_pid "$pid" "$DNS_MARKER"; then echo "demo DNS server (pid $pid): stopped"; fi
    rm -f "$DNS_PIDFILE"
    if [ -x "$ODOO_PY" ]; then "${MAILSTACK[@]}" stop --dir "$STACK"; fi
    exit 0
fi

port_free "$HTTP_PORT" \
    || die "port $HTTP_PORT is already in use (another Odoo or demo?): stop it, or choose another port: MCL_DEMO_HTTP_PORT=8070 make run"

odoo_pid=
dns_pid=
creating_db=
drop_demo_db() {
    dropdb --if-exists --force "$DB" >/dev/null 2>&1 || dropdb --if-exists "$DB"
    rm -rf "$MCL_RUN/filestore/filestore/$DB"
}
stop_all() {  # what this run started, and only that
    # Deaf to further signals (a TERM sent to make's process group reaches this script twice: directly
    # and from make): it ends within seconds, and a half-done cleanup would leave Odoo or the stack running.
    trap - EXIT
    trap '' INT TERM HUP
    if [ -n "$odoo_pid" ]; then stop_pid "$odoo_pid" "$ODOO_MARKER" || true; forget_pid "$ODOO_PIDFILE" "$odoo_pid"; fi
    if [ -n "$creating_db" ]; then drop_demo_db || true; fi
    if [ -n "$dns_pid" ]; then stop_pid "$dns_pid" "$DNS_MARKER" || true; forget_pid "$DNS_PIDFILE" "$dns_pid"; fi
    "${MAILSTACK[@]}" stop --dir "$STACK" >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'echo; step "stopping Odoo and the mail stack"; exit 130' INT TERM HUP

step "demo mail stack ($STACK)"
users=()
for user in "${PRACTICE_USERS[@]}"; do users+=(--user "$user"); done
for patient in "${PATIENTS[@]}"; do users+=(--user "$patient@patients.test:$PATIENT_PASSWORD"); done
"${MAILSTACK[@]}" start --dir "$STACK" --port-base "$STACK_PORT_BASE" "${users[@]}" >/dev/null \
    || die "the demo mail stack did not start (above); 'make stop' stops a stack left by an earlier run"

step "demo DNS server for cabinet-tilleuls.test (127.0.0.1:$DNS_PORT)"
records=()
for record in "${DNS_RECORDS[@]}"; do records+=(--record "$record"); done
PYTHONPATH="$MCL_ROOT/scripts" "$ODOO_PY" -m mailstack.discovery --port "$DNS_PORT" "${records[@]}" >/dev/null &
dns_pid=$!
sleep 0.5
kill -0 "$dns_pid" 2>/dev/null \
    || die "the demo DNS server did not start: UDP port $DNS_PORT is taken (another demo?)"
mkdir -p "$MCL_RUN"
echo "$dns_pid" > "$DNS_PIDFILE"  # for make stop, should this script be killed

step "demo application $OAUTH_CLIENT_ID at the stack's identity server (https://localhost:$((STACK_PORT_BASE + 443)))"
BASE_URL=http://localhost:$HTTP_PORT
"${MAILSTACK[@]}" oauth-client --dir "$STACK" "$OAUTH_CLIENT_ID" "$OAUTH_CLIENT_SECRET" \
    "$BASE_URL/mcl_mailbox/oauth/callback" >/dev/null \
    || die "the demo application could not be registered at the identity server (above)"

write_odoo_conf "$CONF" "$DB" "$HTTP_PORT" "$STACK"
echo "mcl_mailbox_dns = 127.0.0.1:$DNS_PORT" >> "$CONF"

demo_ready() {  # the practice is installed, in French, and the filestore is still there
    [ "$(sql "select state from ir_module_module where name='mcl_mailbox_demo'")" = installed ] \
        && [ "$(sql "select count(*) from ir_model_data where module='mcl_mailbox_demo' and name='mailbox_martin'")" = 1 ] \
        && [ "$(sql "select active from res_lang where code='fr_FR'")" = t ] \
        && [ -d "$MCL_RUN/filestore/filestore/$DB" ]
}

if [ "${MCL_DEMO_RESET:-0}" = 1 ] || ! demo_ready; then
    if [ "$(psql -X -d postgres -Atc "select 1 from pg_database where datname='$DB'")" = 1 ]; then
        step "database $DB lacks the demo (or MCL_DEMO_RESET=1): recreating it"
    fi
    drop_demo_db
    creating_db=1
    : > "$INSTALL_LOG"  # Odoo appends to its log file: start this attempt's log empty
    step "creating the database $DB: the practice, without Odoo's demo data (first run only: about a minute)"
    # In a session of its own, like the server below: Ctrl-C reaches this script, which stops it once
    # (and drops the half-made database); its pid file lets make stop end it should this script be killed.
    setsid "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$CONF" -d "$DB" -i mcl_mailbox_demo --without-demo=all \
        --load-language=fr_FR --stop-after-init --logfile="$INSTALL_LOG" --log-level=warn </dev/null &
    odoo_pid=$!
    echo "$odoo_pid" > "$ODOO_PIDFILE"
    wait "$odoo_pid" && installed=1 || installed=
    forget_pid "$ODOO_PIDFILE" "$odoo_pid"
    odoo_pid=
    if [ -z "$installed" ] || ! demo_ready || grep -q "demo data failed to install" "$INSTALL_LOG"; then
        grep -E "ERROR|CRITICAL|Error|demo data failed" "$INSTALL_LOG" | tail -n 20 >&2 || true
        die "creating the demo database failed and was undone; full log: $INSTALL_LOG"
    fi
    creating_db=
fi

# The redirect URI registered above is on this base URL: frozen, or an administrator logging in through
# http://127.0.0.1:$HTTP_PORT would move it (Odoo follows the admin's URL) and the sign-in would fail.
sql "insert into ir_config_parameter (key, value, create_uid, write_uid, create_date, write_date)
     values ('web.base.url', '$BASE_URL', 1, 1, now() at time zone 'utc', now() at time zone 'utc'),
            ('web.base.url.freeze', 'True', 1, 1, now() at time zone 'utc', now() at time zone 'utc')
     on conflict (key) do update set value = excluded.value, write_date = excluded.write_date" \
    || die "could not set web.base.url in $DB"

step "starting Odoo on http://localhost:$HTTP_PORT (warnings and errors show below)"
# A session of its own: Ctrl-C reaches this script only, which stops Odoo once, then the stack.
setsid "$ODOO_PY" "$ODOO_HOME/odoo-bin" -c "$CONF" -d "$DB" --log-level=warn "$@" </dev/null &
odoo_pid=$!
echo "$odoo_pid" > "$ODOO_PIDFILE"
for _ in $(seq 600); do
    kill -0 "$odoo_pid" 2>/dev/null || die "Odoo stopped (its error is above)"
    curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/web/login" 2>/dev/null && break
    sleep 0.2
done

cat <<BANNER

  Demo ready: http://localhost:$HTTP_PORT   (Ctrl-C stops Odoo and the mail stack)

  Log in as              login / password
    administrator        admin / admin
    Dr Claire Martin     dr.martin / dr.martin       (médecin généraliste, has a mailbox)
    Marc Dubois          kine.dubois / kine.dubois   (kinésithérapeute, has a mailbox)
    Sophie Laurent       secretariat / secretariat   (secretary, invoicing; sends Dr Martin's invoices
                                                      from Dr Martin's mailbox, as her delegate)
    Dr Hélène Bernard    dr.bernard / dr.bernard     (médecin généraliste, outlook.fr: connects her mailbox
                                                      herself with "Sign in with Microsoft")

  Mailboxes on the local mail stack (certificate authority: $STACK/ca.pem)
    IMAP  localhost:10993 (SSL/TLS)      SMTP  localhost:10465 (SSL/TLS), 10587 (STARTTLS)
    claire.martin@cabinet-tilleuls.test / martin-demo
    marc.dubois@cabinet-tilleuls.test / dubois-demo
    patients, password "$PATIENT_PASSWORD": $(printf '%s, ' "${PATIENTS[@]}" | sed 's/, $//') (@patients.test)
  Custom domain: log in as secretariat, Preferences > Boîtes mail > Ajouter une boîte mail,
    address secretariat@cabinet-tilleuls.test, click Pré-remplir: the settings come from the
    domain's DNS (SRV records); app password secretariat-demo, then Tester la connexion et enregistrer.
  Sign in with Microsoft: log in as dr.bernard, Preferences > Boîtes mail > Ajouter une boîte mail,
    address helene.bernard@outlook.fr, Pré-remplir, then the Microsoft sign-in button: the stack's
    identity server (https://localhost:10443, accept its certificate or trust $STACK/ca.pem) asks for
    helene.bernard@outlook.fr / bernard-demo, Accept; back in Odoo, Tester la connexion et enregistrer.
    Without a browser: $ODOO_PY scripts/demo_oauth_check.py
  Read a patient's mailbox:
    python3 -c "import imaplib, ssl; m = imaplib.IMAP4_SSL('localhost', 10993, ssl_context=ssl.create_default_context(cafile='$STACK/ca.pem')); m.login('jeanne.petit@patients.test', '$PATIENT_PASSWORD'); m.select(); print(m.search(None, 'ALL'))"

BANNER

wait "$odoo_pid" && status=0 || status=$?
forget_pid "$ODOO_PIDFILE" "$odoo_pid"
odoo_pid=
exit "$status"
