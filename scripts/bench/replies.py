"""Patients' replies brought into Odoo: one run of the replies cron over many personal mailboxes (issue 14).

    python scripts/bench/replies.py --conf C --db D --stack DIR --port-base P [--mailboxes 50]

In a fresh process, on a database with mcl_mailbox: ``--mailboxes`` practitioners, each with a
personal mailbox on the bench's stack and one email Odoo sent from it to a patient of theirs; each
patient answers from their own mailbox (SMTP on the stack; one patient per practitioner, since Odoo's
gateway drops a 21st message from one sender within two hours as a loop), and each practitioner's
INBOX also gets an unrelated message. Then the cron (``mcl.mailbox.reply.folder._cron_fetch_replies``, in a
committed transaction as the cron runner calls it; it commits after each mailbox) runs once, timed,
and once more with nothing new (the cost of a quiet run). The practitioners are notified in Odoo
(notification by inbox), so that no SMTP to followers is timed.
"""

import argparse
import contextlib
import json
import smtplib
import sys
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

SCRIPT = Path(__file__).resolve()
SCRIPTS = SCRIPT.parents[1]
MAILBOXES = 50
DOMAIN = "practice.bench"
TARGET_SECONDS_PER_MAILBOX = 1.0


# --- the bench's side (scripts/bench/main.py) ----------------------------------------------------


def measure(odoo, args, stack):
    """The measures of one cron run over MAILBOXES mailboxes, on the mcl_mailbox database."""
    import subprocess  # noqa: PLC0415 - the measuring process does not need it

    print(f"==> replies cron over {MAILBOXES} personal mailboxes ({args.db})", flush=True)
    command = [odoo.python, str(SCRIPT), "--conf", str(args.conf), "--db", args.db, "--stack", str(stack.dir),
               "--port-base", str(stack.layout.port_base), "--mailboxes", str(MAILBOXES)]
    log = odoo.log("replies")
    with open(log, "w") as output:
        done = subprocess.run(command, check=False, stdout=subprocess.PIPE, stderr=output, text=True,
                              stdin=subprocess.DEVNULL)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            result = json.loads(line.removeprefix("BENCH-JSON "))
            print(f"    {summary(result)}", flush=True)
            return result
    raise RuntimeError(f"replies on {args.db} failed (exit {done.returncode}); see {log}")


def summary(result):
    return (f"{result['run']:.1f} s for {result['mailboxes']} mailboxes, {result['posted']}/{result['replies']} "
            f"replies posted; quiet run {result['quiet_run']:.1f} s")


def rows(results):
    """The rows of the bench's table (see report.py)."""
    found = results.get("replies")
    if not found:
        return []
    per_mailbox = found["run"] / found["mailboxes"]
    return [(
        f"Patients' replies: one cron run over {found['mailboxes']} personal mailboxes (one IMAP session each), "
        f"one reply and one unrelated email in each INBOX",
        f"{found['run']:.1f} s ({per_mailbox:.2f} s per mailbox), {found['posted']}/{found['replies']} replies on "
        f"their document, {found['unseen']}/{found['in_inboxes']} messages still unread; a run with nothing new: "
        f"{found['quiet_run']:.1f} s",
        "stock Odoo 18: no such feature (fetchmail reads a whole inbox and marks it read)",
        f"target ≤ {TARGET_SECONDS_PER_MAILBOX:g} s per mailbox: "
        f"{'**met**' if per_mailbox <= TARGET_SECONDS_PER_MAILBOX else '**missed**'}",
    )]


def extend_report(report):
    """Have ``report`` add this module's rows to the bench's table (README and docs/benchmarks.md)."""
    base_rows = report.rows
    report.rows = lambda results: base_rows(results) + rows(results)


# --- the measuring process -----------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--port-base", type=int, required=True)
    parser.add_argument("--mailboxes", type=int, default=MAILBOXES)
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args):
        sys.path.insert(0, str(SCRIPTS))
        from mailstack import Stack  # noqa: PLC0415

        from odoo.modules.registry import Registry  # noqa: PLC0415
        from odoo.tools import config  # noqa: PLC0415

        self.args = args
        self.stack = Stack(args.stack, args.port_base)
        config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn", "--no-http"])
        self.registry = Registry(args.db)
        self.token = uuid.uuid4().hex[:8]

    @contextlib.contextmanager
    def cursor_env(self):
        """A transaction as the superuser, committed on exit, as the cron runner does."""
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    # --- set-up (not timed) -------------------------------------------------------------------

    def set_up(self):
        count = self.args.mailboxes
        self.patients = [(f"patient{index}-{self.token}@{DOMAIN}", f"bench-{uuid.uuid4().hex}")
                         for index in range(count)]
        self.accounts = [(f"doctor{index}-{self.token}@{DOMAIN}", f"bench-{uuid.uuid4().hex}") for index in range(count)]
        self.stack.add_users(dict(self.patients + self.accounts))
        with self.cursor_env() as env:
            env["ir.config_parameter"].set_param("mcl_mailbox.connection_timeout", "10")
            patients = env["res.partner"].create([{"name": f"Patient {index}", "email": address}
                                                  for index, (address, _password) in enumerate(self.patients)])
            self.patient_ids = patients.ids
            self.sent = [self._mailbox_that_sent(env, index, address, password, patient)
                         for index, ((address, password), patient) in enumerate(zip(self.accounts, patients,
                                                                                     strict=True))]
        self._answer()

    def _mailbox_that_sent(self, env, index, address, password, patient):
        """A practitioner, their mailbox, and the email Odoo sent from it to the patient: its Message-ID."""
        from odoo import Command  # noqa: PLC0415

        from odoo.addons.mcl_mailbox.models.ir_mail_server import TERMS_VERSION  # noqa: PLC0415

        user = env["res.users"].with_context(no_reset_password=True).create({
            "name": f"Dr {index}", "login": f"bench.replies.{self.token}.{index}", "email": f"dr{index}@cabinet.bench",
            "groups_id": [Command.set([env.ref("base.group_user").id])], "notification_type": "inbox",
        })
        ports = self.stack.ports
        env["ir.mail_server"].create({
            "name": f"Mailbox {index}", "owner_user_id": user.id, "mcl_email": address, "from_filter": address,
            "smtp_host": "localhost", "smtp_port": ports["smtps"], "smtp_encryption": "ssl",
            "smtp_authentication": "login", "smtp_user": address, "mcl_imap_host": "localhost",
            "mcl_imap_port": ports["imaps"], "mcl_imap_encryption": "ssl", "mcl_consent_version": TERMS_VERSION,
            "sequence": 100,
        }).mcl_password = password
        message = env["mail.message"].with_user(user).sudo().create({
            "model": "res.partner", "res_id": patient.id, "message_type": "comment",
            "subtype_id": env.ref("mail.mt_comment").id, "author_id": user.partner_id.id,
            "email_from": f'"Dr {index}" <{address}>', "partner_ids": [Command.set(patient.ids)],
            "subject": f"Votre facture {index}", "body": "<p>Bonjour, voici votre facture.</p>",
        })
        return message.message_id

    def _answer(self):
        """Each patient replies to their email; each INBOX also gets an unrelated message."""
        for (patient, password), (doctor, _password), message_id in zip(self.patients, self.accounts, self.sent,
                                                                          strict=True):
            with smtplib.SMTP_SSL("localhost", self.stack.ports["smtps"], context=self.stack.ssl_context()) as smtp:
                smtp.login(patient, password)
                smtp.send_message(self._message(patient, doctor, "Re: Votre facture", "J'ai payé par virement.",
                                                message_id))
                smtp.send_message(self._message(patient, doctor, "Une question", "Sans rapport avec une facture."))

    def _message(self, sender, to, subject, body, answering=None):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid(domain=DOMAIN)
        if answering:
            message["In-Reply-To"] = message["References"] = answering
        message.set_content(body)
        return message

    # --- measures -----------------------------------------------------------------------------

    def run_cron(self):
        began = time.perf_counter()
        with self.cursor_env() as env:
            env["mcl.mailbox.reply.folder"]._cron_fetch_replies()
        return time.perf_counter() - began

    def measure(self):
        self.set_up()
        run = self.run_cron()
        quiet = self.run_cron()
        with self.cursor_env() as env:
            posted = env["mail.message"].search_count([("model", "=", "res.partner"), ("res_id", "in", self.patient_ids),
                                                       ("message_type", "=", "email")])
            attention = env["ir.mail_server"].search_count([("mcl_email", "in", [a for a, _p in self.accounts]),
                                                            ("mcl_state", "=", "attention")])
        unseen, total = self._unseen()
        return {"mailboxes": len(self.accounts), "replies": len(self.sent), "posted": posted, "run": run,
                "quiet_run": quiet, "attention": attention, "unseen": unseen, "in_inboxes": total}

    def _unseen(self):
        import imaplib  # noqa: PLC0415

        unseen = total = 0
        for address, password in self.accounts:
            with imaplib.IMAP4_SSL("localhost", self.stack.ports["imaps"], ssl_context=self.stack.ssl_context()) as imap:
                imap.login(address, password)
                imap.select("INBOX", readonly=True)
                total += len(imap.search(None, "ALL")[1][0].split())
                unseen += len(imap.search(None, "UNSEEN")[1][0].split())
        return unseen, total


def main(argv=None):
    print("BENCH-JSON " + json.dumps(Bench(parse_args(argv)).measure()), flush=True)


if __name__ == "__main__":
    main()
