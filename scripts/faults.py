"""`make faults`: 200 invoices sent from the list while the provider's SMTP server hangs, then vanishes.

Odoo runs as a practice runs it (``--workers=2 --max-cron-threads=2``, Debian's wkhtmltopdf, real
PDFs) on its own database and local mail stack. The doctor clicks "Send" on 200 posted invoices from
the list (over XML-RPC, as the web client does); once some have left, the SMTP server is paused
(SIGSTOP) for PAUSE seconds, then killed (SIGKILL) and restarted DOWN seconds later. Nobody runs a
job by hand: only the crons work. An email whose fate is unknown (connection lost after its content
went out) is decided as its owner would, with the invoice's buttons, after looking for it in the
patient's mailbox.

It then counts every invoice over IMAP in the patients' mailboxes and in the doctor's Sent folder,
prints the numbers, and fails unless each invoice reached its patient exactly once within BOUND
seconds, and none is in the Sent folder twice.

    python scripts/faults.py --odoo-home H --stack DIR --port-base P --db D --conf C --http-port N
"""

import argparse
import collections
import json
import signal
import subprocess
import sys
import time
import uuid
import xmlrpc.client
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from mailstack import Stack  # noqa: E402

PATIENTS = 20
PAUSE = 40  # seconds the SMTP server hangs
DOWN = 60  # seconds it is gone
BOUND = 20 * 60  # seconds from the click to the last delivery, at most
DOMAIN = "practice.faults"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="faults", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--odoo-home", required=True, type=Path)
    parser.add_argument("--stack", required=True, type=Path)
    parser.add_argument("--port-base", required=True, type=int)
    parser.add_argument("--db", required=True)
    parser.add_argument("--conf", required=True, type=Path)
    parser.add_argument("--http-port", required=True, type=int)
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--invoices", type=int, default=200)
    return parser.parse_args(argv)


def step(text):
    print(f"==> {text}", flush=True)


class Faults:
    def __init__(self, args):
        self.args = args
        self.stack = Stack(args.stack, args.port_base)
        self.url = f"http://127.0.0.1:{args.http_port}"
        self.token = uuid.uuid4().hex[:8]
        self.server = None
        self.events = {}

    # --- Odoo ----------------------------------------------------------------------------------

    def odoo_bin(self, *options):
        return [sys.executable, str(self.args.odoo_home / "odoo-bin"), "-c", str(self.args.conf),
                "-d", self.args.db, *options]

    def install(self):
        subprocess.run(["dropdb", "--if-exists", "--force", self.args.db], check=True)
        log = self.args.run_dir / "faults-install.log"
        done = subprocess.run(self.odoo_bin("-i", "mcl_mailbox", "--without-demo=all", "--stop-after-init",
                                            f"--logfile={log}", "--log-level=warn"), check=False)
        if done.returncode:
            raise SystemExit(f"installing mcl_mailbox failed; see {log}")

    def start_odoo(self):
        log = self.args.run_dir / "faults-odoo.log"
        log.write_text("")  # Odoo appends: this run's log only
        self.server = subprocess.Popen(
            self.odoo_bin("--workers=2", "--max-cron-threads=2", f"--http-port={self.args.http_port}",
                          f"--gevent-port={self.args.http_port + 3}", "--limit-time-real=900",
                          "--limit-time-cpu=900", f"--logfile={log}", "--log-level=info"),
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common").version()
                return
            except OSError:
                if self.server.poll() is not None:
                    raise SystemExit(f"Odoo stopped; see {log}") from None
                time.sleep(0.5)
        raise SystemExit(f"Odoo did not answer in 120 s; see {log}")

    def stop_odoo(self):
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()

    def rpc(self, login, password):
        uid = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common").authenticate(self.args.db, login, password, {})
        models = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)

        def call(model, method, *args, **kwargs):
            return models.execute_kw(self.args.db, uid, password, model, method, list(args), kwargs)
        return call

    # --- the practice --------------------------------------------------------------------------

    def set_up(self):
        admin = self.rpc("admin", "admin")
        admin("ir.config_parameter", "set_param", "report.url", self.url)
        self.doctor_address = f"doctor-{self.token}@{DOMAIN}"
        self.doctor_password = f"faults-{uuid.uuid4().hex}"
        self.stack.add_user(self.doctor_address, self.doctor_password)
        self.patients = {f"patient{n}-{self.token}@{DOMAIN}": f"faults-{uuid.uuid4().hex}" for n in range(PATIENTS)}
        self.stack.add_users(self.patients)
        groups = [admin("ir.model.data", "check_object_reference", module, name)[1]
                  for module, name in (("base", "group_user"), ("account", "group_account_invoice"))]
        self.doctor_id = admin("res.users", "create", {
            "name": "Dr Claire Martin", "login": f"doctor.{self.token}", "password": self.doctor_password,
            "email": self.doctor_address, "groups_id": [(6, 0, groups)],
        })
        admin("mcl.mailbox.provider", "create", {
            "code": f"faults_{self.token}", "name": "Faults stack", "domains": DOMAIN,
            "imap_host": "localhost", "imap_port": self.stack.ports["imaps"], "imap_encryption": "ssl",
            "smtp_host": "localhost", "smtp_port": self.stack.ports["smtps"], "smtp_encryption": "ssl",
            "login_format": "address", "auth_kind": "app_password", "note": "Local fault-test stack.",
        })
        doctor = self.rpc(f"doctor.{self.token}", self.doctor_password)
        form = doctor("mcl.mailbox.setup", "create", {
            "terms_accepted": True, "name": "Cabinet", "email": self.doctor_address, "mcl_password": self.doctor_password,
        })
        doctor("mcl.mailbox.setup", "action_prefill", [form])
        action = doctor("mcl.mailbox.setup", "action_test_and_save", [form])
        if action.get("tag") != "display_notification":
            raise SystemExit(f"the mailbox did not connect: {doctor('mcl.mailbox.setup', 'read', [form], ['diagnosis'])}")
        partners = admin("res.partner", "create", [{"name": f"Patient {n}", "email": address}
                                                   for n, address in enumerate(self.patients)])
        self.invoice_ids = admin("account.move", "create", [{
            "move_type": "out_invoice", "partner_id": partners[n % PATIENTS], "invoice_user_id": self.doctor_id,
            "invoice_line_ids": [(0, 0, {"name": "Séance", "quantity": 1, "price_unit": 30.0 + n, "tax_ids": [(5,)]})],
        } for n in range(self.args.invoices)])
        admin("account.move", "action_post", self.invoice_ids)
        self.names = {move["id"]: move["name"] for move in admin("account.move", "read", self.invoice_ids, ["name"])}
        self.admin, self.doctor = admin, doctor

    # --- the batch, under faults ---------------------------------------------------------------

    def delivered(self):
        """{invoice name: number of emails carrying it} over every patient's INBOX."""
        counts = collections.Counter()
        for address, password in self.patients.items():
            for message in self.stack.fetch_messages(address, password):
                counts.update(name for name in self.names.values() if name in (message["Subject"] or ""))
        return counts

    def sent_folder(self):
        counts = collections.Counter()
        for message in self.stack.fetch_messages(self.doctor_address, self.doctor_password, "Sent"):
            counts.update(name for name in self.names.values() if name in (message["Subject"] or ""))
        return counts

    def click_send(self):
        context = {"active_model": "account.move", "active_ids": self.invoice_ids}
        wizard = self.doctor("account.move.send.batch.wizard", "create", {}, context=context)
        self.doctor("account.move.send.batch.wizard", "action_send_and_print", [wizard], context=context)
        self.events["click"] = time.monotonic()

    def messages_accepted(self):
        return self.stack.smtp_stats()["messages"]

    def wait_for(self, condition, what, limit):
        deadline = self.events["click"] + limit
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(1)

    def faults(self):
        start = self.messages_accepted()
        self.wait_for(lambda: self.messages_accepted() - start >= 20, "the first emails leaving", BOUND)
        step(f"{self.messages_accepted() - start} emails left: the SMTP server hangs for {PAUSE} s")
        self.stack.signal_servers(signal.SIGSTOP)
        time.sleep(PAUSE)
        self.stack.signal_servers(signal.SIGCONT)
        resumed = self.messages_accepted()
        self.wait_for(lambda: self.messages_accepted() - resumed >= 20, "emails leaving after the pause", BOUND)
        step(f"{self.messages_accepted() - start} emails left: the SMTP server is killed, back in {DOWN} s")
        self.stack.signal_servers(signal.SIGKILL)
        time.sleep(DOWN)
        self.stack.start_servers(append=True)
        self.events["back"] = time.monotonic()
        step("the SMTP server is back")

    def decide_maybe_sent(self, delivered):
        """As the owner does: each invoice whose email may have left is looked for where it should be."""
        maybe = [move["id"] for move in self.statuses() if move["mcl_sending_status"] == "fate_unknown"]
        for move_id in maybe:
            method = "action_mcl_confirm_sent" if delivered[self.names[move_id]] else "action_mcl_send_again"
            self.doctor("account.move", method, [move_id])
        return len(maybe)

    def statuses(self):
        return self.doctor("account.move", "read", self.invoice_ids, ["mcl_sending_status"])

    def wait_for_the_end(self):
        """Until every invoice reached its patient, or BOUND; returns the delivery counts."""
        decided = 0
        last_count, last_change = -1, time.monotonic()
        while True:
            if "documents" not in self.events and not self.admin(
                    "account.move", "search_count", [("id", "in", self.invoice_ids), ("sending_data", "!=", False)]):
                self.events["documents"] = time.monotonic()  # every PDF made, every email queued
            delivered = self.delivered()
            if len(delivered) != last_count:
                last_count, last_change = len(delivered), time.monotonic()
            if len(delivered) == len(self.names):
                self.events["last"] = last_change
                return delivered, decided
            if time.monotonic() - self.events["click"] > BOUND:
                return delivered, decided
            decided += self.decide_maybe_sent(delivered)
            time.sleep(5)

    def run(self):
        step(f"database {self.args.db}: installing mcl_mailbox")
        self.install()
        step("Odoo with --workers=2 --max-cron-threads=2")
        self.start_odoo()
        try:
            step(f"the practice: a doctor, her mailbox, {PATIENTS} patients, {self.args.invoices} posted invoices")
            self.set_up()
            step(f"the doctor clicks Send on the {self.args.invoices} invoices of the list")
            self.click_send()
            self.faults()
            delivered, decided = self.wait_for_the_end()
            time.sleep(5)  # the last Sent copies
            waiting = sum(bool(move["mcl_sending_status"]) for move in self.statuses())
            sent = self.sent_folder()
        finally:
            self.stop_odoo()
        return self.report(delivered, sent, decided, waiting)

    def failed_sends(self):
        """How many sending attempts failed (Odoo logs each one), all through the faults."""
        log = (self.args.run_dir / "faults-odoo.log").read_text(errors="replace")
        return log.count("failed sending mail")

    def report(self, delivered, sent, decided, waiting):
        names = list(self.names.values())
        results = {
            "invoices": len(names),
            "delivered once": sum(delivered[name] == 1 for name in names),
            "lost": sum(delivered[name] == 0 for name in names),
            "doubled": sum(delivered[name] > 1 for name in names),
            "in Sent once": sum(sent[name] == 1 for name in names),
            "in Sent twice or more": sum(sent[name] > 1 for name in names),
            "emails that failed and were retried by themselves": self.failed_sends(),
            "maybe sent, decided by the owner": decided,
            "still shown as waiting": waiting,
            "seconds per invoice to make its PDF and queue its email": round(
                (self.events.get("documents", time.monotonic()) - self.events["click"]) / len(names), 2),
            "seconds from the click to the last delivery": round(self.events.get("last", time.monotonic())
                                                                 - self.events["click"]),
            "seconds from the server's return to the last delivery": round(self.events.get("last", time.monotonic())
                                                                           - self.events["back"]),
            "bound (seconds)": BOUND,
        }
        print()
        for key, value in results.items():
            print(f"  {key:<55} {value}")
        print("FAULTS-JSON " + json.dumps(results))
        ok = (results["delivered once"] == len(names) and not results["in Sent twice or more"]
              and results["emails that failed and were retried by themselves"]  # else the faults hit nothing
              and results["in Sent once"] + decided >= len(names) and not waiting
              and results["seconds from the click to the last delivery"] <= BOUND)
        print("faults: " + ("passed" if ok else "FAILED"))
        return 0 if ok else 1


def main(argv=None):
    return Faults(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
