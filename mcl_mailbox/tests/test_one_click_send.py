"""One click sends an invoice to its patient, with an undo (issue 16).

The click only queues: the send cron renders the PDF, the email waits in Odoo's mail queue until the
undo delay is over, then leaves once through the practitioner's mailbox. What the patient gets is read
back over IMAP from their mailbox on the local stack; what the practitioner sees is the button, the
notification the click returns, and the invoice's chatter.
"""

import threading
import time
import uuid
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.exceptions import UserError
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.account.models.account_move_send import AccountMoveSend

from .common import MailboxCase
from .test_invoice_pdf import wkhtmltopdf_deadline
from .test_invoice_sending import InvoiceCase
from .test_tours import TOUR_TIMEOUT, TourCase

TOUR_ADDRESS = "one.click.tour@practice.test"  # the doctor's mailbox in the tours
PATIENT = "Patient Durand"  # InvoiceCase's patient


class OneClickCase(InvoiceCase):
    def set_undo_delay(self, seconds):
        self.env["ir.config_parameter"].sudo().set_param("mcl_mailbox.undo_delay", str(seconds))

    def click(self, user, invoices, method="action_mcl_send_now"):
        """The button, as ``user`` clicks it: the client action it returns."""
        return getattr(invoices.with_user(user), method)()

    def undo(self, user, invoices, action):
        return invoices.with_user(user).action_mcl_undo_send(action["params"]["send_at"])

    def send_cron(self, **context):
        """The stock send cron (as the superuser), run until no invoice waits in it."""
        moves = self.env["account.move"].with_context(**context)
        while moves.search_count([("sending_data", "!=", False)]):
            moves._cron_account_move_send()

    def mail_queue(self):
        self.env["mail.mail"].process_email_queue()

    def wait_for_the_undo_delay(self, action):
        """Sleep until the click's emails are due (the undo delay and its grace over, or their rendering's margin)."""
        mails = self.env["mail.mail"].sudo().search([
            ("model", "=", "account.move"), ("res_id", "in", action["params"]["move_ids"]),
        ])
        due = max([fields.Datetime.to_datetime(action["params"]["send_at"]), *mails.mapped("scheduled_date")])
        time.sleep(max(0.0, (due - fields.Datetime.now()).total_seconds()) + 1.2)

    def label(self, user, invoice):
        return invoice.with_user(user).mcl_one_click_label

    def chatter(self, invoice):
        return " ".join(invoice.message_ids.mapped("body"))


@tagged("post_install", "-at_install")
class TestOneClickSend(OneClickCase):
    def setUp(self):
        super().setUp()
        self.set_undo_delay(0)  # the email is due 2 s after the click
        self.mailbox = self.doctor_mailbox()

    def test_the_click_only_queues_and_the_email_leaves_once_after_the_delay(self):
        invoice = self.make_invoice(self.doctor)
        self.assertEqual(self.label(self.doctor, invoice), f"Send to {PATIENT}")
        logins_before = self.stack.smtp_stats()["logins"]

        action = self.click(self.doctor, invoice)

        self.assertEqual(action["tag"], "mcl_mailbox_undo_send", "a notification with an Undo button")
        self.assertEqual(action["params"]["message"], f"Invoice sent to {PATIENT} ({self.patient_address})")
        self.assertFalse(invoice.invoice_pdf_report_id, "the click returned before rendering the PDF")
        self.assertFalse(self.invoice_mails(invoice), "and before writing the email")
        self.assertFalse(self.label(self.doctor, invoice), "the button is gone: the invoice is sent")
        self.send_cron()
        self.assertTrue(invoice.invoice_pdf_report_id, "the send cron rendered the PDF")
        self.mail_queue()
        self.assertFalse(self.inbox(), "nothing leaves during the undo delay")
        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before, "not even a login to the provider")

        self.wait_for_the_undo_delay(action)
        self.mail_queue()
        self.mail_queue()

        [received] = self.inbox()
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet", "the doctor's template")
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address, "from her mailbox")
        self.assertEqual([part.get_filename() for part in received.iter_attachments()],
                         [invoice._get_invoice_report_filename()], "with the invoice")
        self.assertTrue(invoice.is_move_sent)

    def test_undo_before_the_cron_rendered_it_sends_nothing(self):
        invoice = self.make_invoice(self.doctor)
        action = self.click(self.doctor, invoice)

        result = self.undo(self.doctor, invoice, action)

        self.assertEqual(result["params"]["message"], f"Sending cancelled: the email of {invoice.name} will not be sent.")
        self.send_cron()
        self.wait_for_the_undo_delay(action)
        self.mail_queue()
        self.assertFalse(self.inbox(), "the patient received nothing")
        self.assertFalse(invoice.is_move_sent)
        self.assertIn(f"cancelled sending this invoice to {PATIENT}", self.chatter(invoice), "logged on the invoice")
        self.assertEqual(self.label(self.doctor, invoice), f"Send to {PATIENT}", "it can be sent again")

    def test_undo_after_the_cron_rendered_it_sends_nothing(self):
        invoice = self.make_invoice(self.doctor)
        action = self.click(self.doctor, invoice)
        self.send_cron()

        result = self.undo(self.doctor, invoice, action)

        self.assertEqual(result["params"]["type"], "info")
        self.assertEqual(self.invoice_mails(invoice).mapped("state"), ["cancel"])
        self.wait_for_the_undo_delay(action)
        self.mail_queue()
        self.assertFalse(self.inbox(), "the patient received nothing")
        self.assertIn(f"cancelled sending this invoice to {PATIENT}", self.chatter(invoice))

    def test_undo_after_the_email_left_says_it_is_too_late(self):
        invoice = self.make_invoice(self.doctor)
        action = self.click(self.doctor, invoice)
        self.send_cron()
        self.wait_for_the_undo_delay(action)
        self.mail_queue()

        result = self.undo(self.doctor, invoice, action)

        self.assertEqual(result["params"]["type"], "warning")
        self.assertIn("Too late", result["params"]["message"])
        self.assertEqual(len(self.inbox()), 1, "it arrived, once")
        self.assertTrue(invoice.is_move_sent)

    def test_two_workers_running_the_crons_send_each_email_once(self):
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.physio) + self.make_invoice(self.doctor)
        logins_before = self.stack.smtp_stats()["logins"]
        action = self.click(self.doctor, invoices)
        self.assertEqual(action["params"]["message"], "3 invoices sent to their patients")

        for _worker in ("first", "second"):  # each worker runs both crons, before and after the delay
            self.env["account.move"]._cron_account_move_send()
            self.mail_queue()
        self.send_cron()
        self.wait_for_the_undo_delay(action)
        for _worker in ("first", "second"):
            self.env["account.move"]._cron_account_move_send()
            self.mail_queue()

        received = self.inbox()
        self.assertEqual(sorted(message["Subject"] for message in received),
                         sorted(f"Votre facture {name} du cabinet" for name in invoices.mapped("name")),
                         "each invoice arrived exactly once")
        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before + 1, "one SMTP session for the batch")

    def test_one_undo_cancels_the_whole_selection(self):
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        action = self.click(self.doctor, invoices)
        self.env["account.move"]._cron_account_move_send(job_count=1)  # one rendered, one still waiting

        self.undo(self.doctor, invoices, action)

        self.send_cron()
        self.wait_for_the_undo_delay(action)
        self.mail_queue()
        self.assertFalse(self.inbox(), "neither invoice was sent")
        self.assertFalse(any(invoices.mapped("is_move_sent")))

    def test_a_draft_is_confirmed_and_sent(self):
        draft = self.make_invoice(self.doctor)
        draft.button_draft()
        self.assertEqual(self.label(self.doctor, draft), "Confirm and send")

        action = self.click(self.doctor, draft, "action_mcl_confirm_and_send")

        self.assertEqual(draft.state, "posted")
        self.send_cron()
        self.wait_for_the_undo_delay(action)
        self.mail_queue()
        self.assertEqual([message["Subject"] for message in self.inbox()], [f"Votre facture {draft.name} du cabinet"])

    def test_a_delegate_sends_the_doctors_invoice_from_her_mailbox(self):
        self.mailbox.mcl_delegate_user_ids = self.secretary
        invoice = self.make_invoice(self.doctor)
        self.assertEqual(self.label(self.secretary, invoice), f"Send to {PATIENT}")

        action = self.click(self.secretary, invoice)
        self.send_cron()
        self.wait_for_the_undo_delay(action)
        self.mail_queue()

        [received] = self.inbox()
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address)
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet", "the doctor's template")
        self.assertFalse(self.label(self.secretary, self.make_invoice(self.physio)),
                         "not a colleague's invoice from the doctor's mailbox")

    # refusals: the button is hidden, and a crafted call says why and sends nothing

    def assert_refused(self, user, invoices, reason):
        with self.assertRaises(UserError) as raised:
            self.click(user, invoices)
        self.assertIn(reason, str(raised.exception))
        self.assertFalse(any(invoices.mapped("sending_data")), "nothing queued")
        self.send_cron()
        self.mail_queue()
        self.assertFalse(self.invoice_mails(invoices), "nothing half-sent")

    def test_a_patient_without_email_is_refused(self):
        good = self.make_invoice(self.doctor)
        self.patient = self.env["res.partner"].create({"name": "Paul Roux"})
        no_email = self.make_invoice(self.doctor)
        self.assertFalse(self.label(self.doctor, no_email))
        self.assert_refused(self.doctor, good + no_email, "Paul Roux has no email address")

    def test_an_invoice_already_sent_is_refused(self):
        invoice = self.make_invoice(self.doctor)
        self.send_wizard(self.doctor, invoice).action_send_and_print()
        self.assertFalse(self.label(self.doctor, invoice))
        with self.assertRaises(UserError) as raised:
            self.click(self.doctor, invoice)
        self.assertIn(f"{invoice.name} has already been sent", str(raised.exception))
        self.assertEqual(len(self.inbox()), 1, "the patient got it once, from the wizard")

    def test_a_mailbox_that_needs_attention_is_refused(self):
        invoice = self.make_invoice(self.doctor)
        self.mailbox.sudo().mcl_last_error = "Outgoing mail (SMTP): sending failed."
        self.assertFalse(self.label(self.doctor, invoice))
        self.assert_refused(self.doctor, invoice, f"Your mailbox {self.doctor_address} needs attention")

    def test_no_template_or_no_mailbox_is_refused(self):
        invoice = self.make_invoice(self.doctor)
        self.doctor.mcl_invoice_template_id = False
        self.assertFalse(self.label(self.doctor, invoice))
        self.assert_refused(self.doctor, invoice, "Choose a default invoice template")
        self.assertFalse(self.label(self.physio, invoice), "a colleague without mailbox sees no button")
        self.physio.mcl_invoice_template_id = self.template
        self.assert_refused(self.physio, invoice, "Connect your mailbox")


@tagged("post_install", "-at_install")
class TestOneClickSendTours(OneClickCase, TourCase):
    """In Chromium: one click for an invoice, one after a selection; the undo; the real PDF."""

    def setUp(self):
        super().setUp()
        password = "mcltestsecretoneclick"
        self.stack.add_user(TOUR_ADDRESS, password)
        self.doctor.mcl_invoice_template_id = self.template
        self.connect_mailbox(self.doctor, TOUR_ADDRESS, password)

    def test_one_click_sends_the_invoice_with_its_pdf(self):
        # wkhtmltopdf loads the report's styles from the test's HTTP server
        self.env["ir.config_parameter"].sudo().set_param("report.url", f"http://127.0.0.1:{config['http_port']}")
        self.set_undo_delay(3)
        invoice = self.make_invoice(self.doctor)

        self.start_tour(f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
                        "mcl_mailbox_one_click_send", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        with wkhtmltopdf_deadline():
            self.send_cron(force_report_rendering=True)
        self.mail_queue()
        self.assertFalse(self.inbox(), "not before the undo delay")
        self.wait_for_the_undo_delay({"params": {"move_ids": invoice.ids, "send_at": "2000-01-01 00:00:00"}})
        self.mail_queue()
        self.mail_queue()

        [received] = self.inbox()
        self.assertEqual(received["From"].addresses[0].addr_spec, TOUR_ADDRESS)
        [pdf] = list(received.iter_attachments())
        self.assertEqual(pdf.get_filename(), invoice._get_invoice_report_filename())
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertTrue(pdf.get_content().startswith(b"%PDF-"), "a real PDF, made by wkhtmltopdf")

    def test_undo_in_the_notification_sends_nothing(self):
        self.set_undo_delay(60)  # time enough for the tour to click Undo
        invoice = self.make_invoice(self.doctor)

        self.start_tour(f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
                        "mcl_mailbox_one_click_undo", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        self.send_cron()
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).scheduled_date = False  # due now
        self.mail_queue()

        self.assertFalse(self.inbox(), "the patient received nothing")
        self.assertFalse(invoice.is_move_sent)
        self.assertIn("cancelled sending this invoice", self.chatter(invoice))

    def test_one_click_after_a_selection_and_one_undo(self):
        self.set_undo_delay(60)
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        # The invoice list with these three only (a database with Odoo's demo data has many more).
        action = self.env["ir.actions.act_window"].create({
            "name": "Invoices", "res_model": "account.move", "view_mode": "list,form",
            "view_id": self.env.ref("account.view_out_invoice_tree").id,
            "domain": [("id", "in", invoices.ids)], "context": {"default_move_type": "out_invoice"},
        })

        self.start_tour(f"/odoo/action-{action.id}",
                        "mcl_mailbox_one_click_selection", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        self.send_cron()
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).scheduled_date = False
        self.mail_queue()

        self.assertFalse(self.inbox(), "one Undo cancelled the whole selection")
        self.assertFalse(any(invoices.mapped("is_move_sent")))


@tagged("post_install", "-at_install")
class TestOneClickSendWorkers(MailboxCase):
    """Each worker in its own committed transaction, as Odoo's cron workers and HTTP workers run.

    The data is committed (other transactions must see it) and removed at the end.
    """

    def worker_env(self):
        """A new transaction as the superuser (the crons' user), committed when the block ends."""
        cursor = self.registry.cursor()
        cursor.execute("SET LOCAL lock_timeout = '30s'")  # a row this test's own transaction holds: fail, not hang
        return cursor, api.Environment(cursor, SUPERUSER_ID, {})

    def run_cron_as_a_worker(self, xmlid, method):
        """Run ``method(env)`` as a cron worker runs the job ``xmlid``: while holding the job's row, which
        another worker then skips (ir.cron._acquire_one_job). Whether it ran."""
        lock_cr, lock_env = self.worker_env()
        with lock_cr:
            lock_cr.execute("SELECT id FROM ir_cron WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                            [lock_env.ref(xmlid).id])
            if not lock_cr.fetchone():
                return False
            job_cr, job_env = self.worker_env()
            with job_cr:
                method(job_env)
            return True

    def in_parallel(self, *functions):
        threads = [threading.Thread(target=function) for function in functions]
        # Odoo's own runner holds the registry lock while it runs the tests; the workers' code takes
        # it (looking the registry up by name): as in Odoo's test mode, it is a dummy meanwhile.
        with patch.object(Registry, "_lock", DummyRLock()):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)

    def set_up_committed_practice(self):
        token = uuid.uuid4().hex[:8]
        self.doctor_address, doctor_password = self.new_account()
        self.patient_address, self.patient_password = self.new_account()
        cr, env = self.worker_env()
        with cr:
            provider = env["mcl.mailbox.provider"].create({
                **self.provider.copy_data()[0], "code": f"local_test_{token}"})
            # An existing user: creating one writes rows (digests) that this test's transaction holds.
            doctor = env.ref("base.user_admin")
            template = doctor.mcl_invoice_template_id.id
            form = env["mcl.mailbox.setup"].with_user(doctor).create({
                "terms_accepted": True, "name": "Cabinet", "email": self.doctor_address,
                "mcl_password": doctor_password, "mcl_provider_id": provider.id,
            })
            form.action_prefill()
            self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
            patient = env["res.partner"].create({"name": "Patient Worker", "email": self.patient_address})
            invoices = env["account.move"].create([{
                "move_type": "out_invoice", "partner_id": patient.id, "invoice_user_id": doctor.id,
                "invoice_line_ids": [Command.create({"name": "Consultation", "quantity": 1, "price_unit": 30.0,
                                                     "tax_ids": [Command.clear()]})],
            } for _i in range(3)])
            invoices.action_post()
            env["ir.config_parameter"].set_param("mcl_mailbox.undo_delay", "0")
            ids = {"provider": provider.id, "doctor": doctor.id, "patient": patient.id, "invoices": invoices.ids,
                   "template": template}
        self.addCleanup(self.remove_committed_practice, ids)
        return ids

    def remove_committed_practice(self, ids):
        cr, env = self.worker_env()
        with cr:
            invoices = env["account.move"].browse(ids["invoices"])
            env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "in", invoices.ids)]).unlink()
            mailboxes = env["ir.mail_server"].search([("mcl_email", "=", self.doctor_address)])
            invoices.button_draft()
            for invoice in invoices.sorted("id", reverse=True):  # the last of the sequence first
                invoice.unlink()
            mailboxes.unlink()
            env["res.users"].browse(ids["doctor"]).mcl_invoice_template_id = ids["template"]
            env["res.partner"].browse(ids["patient"]).active = False
            env["mcl.mailbox.provider"].browse(ids["provider"]).unlink()
            env["ir.config_parameter"].set_param("mcl_mailbox.undo_delay", "10")

    def click(self, ids, invoice_ids):
        cr, env = self.worker_env()
        with cr:
            return env["account.move"].with_user(ids["doctor"]).browse(invoice_ids).action_mcl_send_now()

    def test_an_undo_racing_the_send_job_and_two_workers_send_each_email_once(self):
        ids = self.set_up_committed_practice()
        undone, *selection = ids["invoices"]
        rendering, results = threading.Event(), []
        generate = AccountMoveSend._generate_invoice_documents

        def slow_generation(moves_send, invoices_data, **kwargs):  # Odoo's rendering, made to take its time
            rendering.set()
            time.sleep(2)
            return generate(moves_send, invoices_data, **kwargs)

        def send_job(env):
            env["account.move"]._cron_account_move_send()

        def undo():  # as Odoo serves the Undo button's call: replayed after a concurrent update
            rendering.wait(30)
            cr, env = self.worker_env()
            with cr:
                move = env["account.move"].with_user(ids["doctor"]).browse(undone)
                results.append(retrying(lambda: move.action_mcl_undo_send(action["params"]["send_at"]), env))

        action = self.click(ids, [undone])
        with patch.object(AccountMoveSend, "_generate_invoice_documents", slow_generation):
            self.in_parallel(lambda: self.run_cron_as_a_worker("account.ir_cron_account_move_send", send_job),
                             undo)
        [result] = results
        self.assertEqual(result["params"]["type"], "info", "the Undo clicked during the rendering cancelled it")

        batch = self.click(ids, selection)
        for _run in range(3):  # two workers take the send job at once, until no invoice waits
            self.in_parallel(*[lambda: self.run_cron_as_a_worker("account.ir_cron_account_move_send", send_job)] * 2)
        cr, env = self.worker_env()
        with cr:
            mails = env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "in", ids["invoices"])])
            due = max([fields.Datetime.to_datetime(batch["params"]["send_at"]), *mails.mapped("scheduled_date")])
        time.sleep(max(0.0, (due - fields.Datetime.now()).total_seconds()) + 1.2)
        queue = lambda: self.run_cron_as_a_worker(  # noqa: E731
            "mail.ir_cron_mail_scheduler_action", lambda env: env["mail.mail"].process_email_queue())
        for _run in range(2):
            self.in_parallel(queue, queue)

        cr, env = self.worker_env()
        with cr:
            names = env["account.move"].browse(ids["invoices"]).mapped("name")
        received = self.stack.fetch_messages(self.patient_address, self.patient_password)
        arrived = sorted(name for message in received for name in names if name in message["Subject"])
        self.assertEqual(len(received), 2)
        self.assertEqual(arrived, sorted(names[1:]),
                         "the undone invoice never arrived; each of the others arrived exactly once")
