"""Send a batch of posted invoices through Odoo's real flow, in-process; print the measures as JSON.

    python scripts/bench/sending.py --conf C --db D --mode {mailbox,stock} --invoices N --stack DIR --port-base P

Run once per database, each in a fresh process: the batch wizard, the account cron
(`_cron_account_move_send(job_count=20)`, as account/data/service_cron.xml calls it) and the
mail cron (`process_email_queue(batch_size=1000)`), each in its own committed transaction as
the cron runner does, until nothing waits; then the stack's SMTP counters say what arrived.
"""

import argparse
import contextlib
import json
import os
import smtplib
import sys
import time
import timeit
import uuid
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPTS))

from mailstack import Stack  # noqa: E402

import odoo  # noqa: E402
from odoo import SUPERUSER_ID, Command, api  # noqa: E402
from odoo.modules.registry import Registry  # noqa: E402
from odoo.tools import config  # noqa: E402

JOB_COUNT = 20  # what the cron passes
PATIENTS = 10
DOMAIN = "practice.bench"


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--mode", choices=("mailbox", "stock"), required=True)
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--port-base", type=int, required=True)
    parser.add_argument("--pdf", choices=("html", "wkhtmltopdf"), default="html")
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args):
        self.args = args
        self.stack = Stack(args.stack, args.port_base)
        config.parse_config(["-c", args.conf, "-d", args.db, "--log-level=warn", "--no-http"])
        self.registry = Registry(args.db)
        self.pdf = self._choose_rendering(args.pdf)
        self.decryptions = 0
        self._count_decryptions()
        self.timers = {"smtp_send_message": 0.0, "sent_copy_enqueue": 0.0}
        self._time_method(smtplib.SMTP, "send_message", "smtp_send_message")
        if "mcl.mailbox.sent.copy" in self.registry:
            self._time_method(self.registry["mcl.mailbox.sent.copy"], "_enqueue", "sent_copy_enqueue")

    # --- environment --------------------------------------------------------------------------

    @contextlib.contextmanager
    def cursor_env(self):
        """A transaction as the superuser, committed on exit (post-commit hooks run), as the cron runner does."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    def _choose_rendering(self, wanted):
        """Without wkhtmltopdf, Odoo refuses to render a PDF (the cron then marks every invoice in
        error): render the invoices as Odoo's own tests do (``test_enable``: the report as HTML, the
        Factur-X XML as a separate attachment), on both sides alike. Set after the registry is loaded,
        it changes nothing else on this path (no commit guard: that is ``current_test``, unset here)."""
        from odoo.addons.base.models import ir_actions_report  # noqa: PLC0415

        if wanted == "wkhtmltopdf" and ir_actions_report.wkhtmltopdf_state == "ok":
            return "PDF rendered by wkhtmltopdf"
        config["test_enable"] = True
        why = "wkhtmltopdf is missing" if ir_actions_report.wkhtmltopdf_state != "ok" else "MCL_BENCH_PDF=html"
        return f"Invoice report rendered as HTML, as under Odoo's tests ({why})"

    def _time_method(self, cls, name, timer):
        """Add the time spent in ``cls.name`` to ``self.timers[timer]``."""
        original = getattr(cls, name)

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.timers[timer] += time.perf_counter() - began

        setattr(cls, name, timed)

    def _count_decryptions(self):
        if self.args.mode != "mailbox":
            return
        from odoo.addons.mcl_mailbox.core import vault  # noqa: PLC0415

        original = vault.decrypt

        def counting_decrypt(*args, **kwargs):
            self.decryptions += 1
            return original(*args, **kwargs)

        vault.decrypt = counting_decrypt
        self._vault, self._decrypt = vault, original

    # --- set-up (not timed) -------------------------------------------------------------------

    def set_up(self):
        token = uuid.uuid4().hex[:8]
        self.address = f"doctor-{token}@{DOMAIN}"
        self.password = f"bench-{uuid.uuid4().hex}"
        self.stack.add_user(self.address, self.password)
        with self.cursor_env() as env:
            env["ir.config_parameter"].set_param("mcl_mailbox.connection_timeout", "10")
            groups = [env.ref("base.group_user").id, env.ref("account.group_account_invoice").id]
            doctor = env["res.users"].with_context(no_reset_password=True).create({
                "name": "Dr Claire Martin", "login": f"bench.doctor.{token}", "email": self.address,
                "groups_id": [Command.set(groups)],
            })
            self.doctor_id = doctor.id
            if self.args.mode == "mailbox":
                self._connect_mailbox(env, doctor)
            else:
                env["ir.mail_server"].create({
                    "name": "Practice SMTP (stock)", "smtp_host": "localhost", "smtp_port": self.stack.ports["smtps"],
                    "smtp_encryption": "ssl", "smtp_authentication": "login", "smtp_user": self.address,
                    "smtp_pass": self.password, "from_filter": self.address,
                })
        with self.cursor_env() as env:
            self.invoice_ids = self._post_invoices(env, token)

    def _connect_mailbox(self, env, doctor):
        """The practitioner's own mailbox, through the set-up form and its real connection test."""
        values = {
            "name": "Bench stack", "domains": DOMAIN,
            "imap_host": "localhost", "imap_port": self.stack.ports["imaps"], "imap_encryption": "ssl",
            "smtp_host": "localhost", "smtp_port": self.stack.ports["smtps"], "smtp_encryption": "ssl",
            "login_format": "address", "auth_kind": "app_password", "note": "Local bench stack.",
        }
        provider = env["mcl.mailbox.provider"].search([("code", "=", "bench_stack")], limit=1)
        if provider:
            provider.write(values)
        else:
            provider = env["mcl.mailbox.provider"].create(dict(values, code="bench_stack"))
        form = env["mcl.mailbox.setup"].with_user(doctor).create({
            "terms_accepted": True, "name": "Cabinet", "email": self.address, "mcl_password": self.password,
        })
        form.action_prefill()
        form.write({"signature": "<p>Dr Claire Martin, médecin généraliste</p>"})
        action = form.action_test_and_save()
        if action.get("tag") != "display_notification":
            raise RuntimeError(f"the bench mailbox did not connect: {form.diagnosis}")
        mailbox = env["ir.mail_server"].search([("mcl_email", "=", self.address)])
        if (mailbox.smtp_port, mailbox.mcl_imap_port) != (provider.smtp_port, provider.imap_port):
            raise RuntimeError("the bench mailbox does not point at the bench stack")
        self.mailbox_id = mailbox.id

    def _post_invoices(self, env, token):
        patients = env["res.partner"].create([
            {"name": f"Patient {n}", "email": f"patient{n}-{token}@patients.bench"} for n in range(PATIENTS)
        ])
        invoices = env["account.move"].create([{
            "move_type": "out_invoice",
            "partner_id": patients[n % PATIENTS].id,
            "invoice_user_id": self.doctor_id,
            "invoice_line_ids": [Command.create({
                "name": "Consultation", "quantity": 1, "price_unit": 30.0, "tax_ids": [Command.clear()],
            })],
        } for n in range(self.args.invoices)])
        invoices.action_post()
        return invoices.ids

    # --- the measure --------------------------------------------------------------------------

    def send(self):
        before = self.stack.smtp_stats()
        self.decryptions = 0
        self.timers = dict.fromkeys(self.timers, 0.0)
        began = time.perf_counter()
        with self.cursor_env() as env:
            doctor = env["res.users"].browse(self.doctor_id)
            env["account.move.send.batch.wizard"].with_user(doctor).with_context(
                active_model="account.move", active_ids=self.invoice_ids,
            ).create({}).action_send_and_print()
        cron_runs = 0
        while True:  # the account cron, re-triggered while invoices wait
            with self.cursor_env() as env:
                if not env["account.move"].search_count([("sending_data", "!=", False)]):
                    break
                env["account.move"]._cron_account_move_send(job_count=JOB_COUNT)
                cron_runs += 1
        documents_done = time.perf_counter()
        queue_runs = 0
        while True:  # the mail cron
            with self.cursor_env() as env:
                if not env["mail.mail"].search_count([("state", "=", "outgoing")]):
                    break
                env["mail.mail"].process_email_queue(batch_size=1000)
                queue_runs += 1
                if queue_runs > 50:
                    raise RuntimeError("the mail queue does not empty")
        after = self._settled_stats(before)
        ended = time.perf_counter()
        with self.cursor_env() as env:
            sent = env["account.move"].search_count([("id", "in", self.invoice_ids), ("is_move_sent", "=", True)])
            failed_mails = env["mail.mail"].search_count([("state", "=", "exception")])
        return {
            "wall": ended - began,
            "documents_phase": documents_done - began,
            "queue_phase": ended - documents_done,
            "logins": after["logins"] - before["logins"],
            "messages": after["messages"] - before["messages"],
            "invoices_marked_sent": sent,
            "mails_in_exception": failed_mails,
            "account_cron_runs": cron_runs,
            "mail_cron_runs": queue_runs,
            "decryptions": self.decryptions if self.args.mode == "mailbox" else None,
            **self.timers,
        }

    def _settled_stats(self, before, patience=10.0):
        """The SMTP counters once every expected message has arrived (or `patience` has passed)."""
        deadline = time.monotonic() + patience
        while True:
            stats = self.stack.smtp_stats()
            if stats["messages"] - before["messages"] >= self.args.invoices or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)

    def decrypt_cost(self):
        """Seconds per `vault.decrypt` of the stored token (the key parsing included, as each call does it)."""
        from odoo.addons.mcl_mailbox.models.mcl_mailbox_mixin import configured_keys  # noqa: PLC0415

        with self.cursor_env() as env:
            token = env["ir.mail_server"].browse(self.mailbox_id).mcl_password_token
        keys = configured_keys()
        number = 2000
        best = min(timeit.repeat(lambda: self._decrypt(keys, token), number=number, repeat=3))
        return best / number

    def deferred_sent_copies(self):
        """The add-on's Sent-folder copies (its own cron, after the sending): how many, how long."""
        if "mcl.mailbox.sent.copy" not in self.registry:
            return None
        with self.cursor_env() as env:
            waiting = env["mcl.mailbox.sent.copy"].search_count([])
        self.decryptions = 0
        began = time.perf_counter()
        runs = 0
        while runs < 50:
            with self.cursor_env() as env:
                before = env["mcl.mailbox.sent.copy"].search_count([])
                if not before:
                    break
                env["mcl.mailbox.sent.copy"]._cron_file_sent_copies()
                runs += 1
                if env["mcl.mailbox.sent.copy"].search_count([]) >= before:
                    break  # only failures left: they wait for a later run
        elapsed = time.perf_counter() - began
        with self.cursor_env() as env:
            left = env["mcl.mailbox.sent.copy"].search_count([])
        return {"queued": waiting, "left": left, "seconds": elapsed, "cron_runs": runs, "decryptions": self.decryptions}


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    bench.set_up()
    result = {"mode": args.mode, "db": args.db, "invoices": args.invoices, "rendering": bench.pdf}
    result.update(bench.send())
    if args.mode == "mailbox":
        result["decrypt_seconds"] = bench.decrypt_cost()
        result["sent_copies"] = bench.deferred_sent_copies()
    result["odoo_version"] = odoo.release.version
    print("BENCH-JSON " + json.dumps(result), flush=True)
    os._exit(0)  # do not wait for Odoo's daemon threads


if __name__ == "__main__":
    main()
