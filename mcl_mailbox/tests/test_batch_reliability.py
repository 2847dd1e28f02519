"""A batch finishes by itself, and every email that did not leave has a state its owner can act on.

- an email whose connection is lost after its content went out may have left: it is never sent again
  unless its owner asks, and the invoice says so, with a to-do;
- the invoice send job that fails (a concurrent update) runs again within minutes, and its sender is
  told once how many invoices wait and why;
- telling the owner happens after the sending, in a transaction of its own, and sends no email.
"""

import json
from datetime import timedelta
from unittest.mock import patch

import psycopg2.errors
from freezegun import freeze_time

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .hostile_servers import HostileServer, server_tls_context
from .test_invoice_sending import InvoiceCase


@tagged("post_install", "-at_install")
class TestMaybeSent(InvoiceCase):
    def setUp(self):
        super().setUp()
        tls = self.stack.layout.tls_dir
        self.server = HostileServer("vanish_after_data", server_tls_context(tls / "server.pem", tls / "server.key"))
        self.addCleanup(self.server.stop)
        address, password = self.new_account()
        self.doctor.mcl_invoice_template_id = self.template
        self.mailbox = self.connect_mailbox(self.doctor, address, password, smtp_port=self.server.port)
        self.invoice = self.make_invoice(self.doctor)
        self.send_wizard(self.doctor, self.invoice).action_send_and_print()
        [self.mail] = self.invoice_mails(self.invoice)

    def maybe_sent_todos(self):
        self.env["ir.mail_server"]._cron_mcl_report_failures()
        return self.invoice.activity_ids.filtered(
            lambda activity: activity.activity_type_id == self.env.ref("mcl_mailbox.mail_activity_type_maybe_sent"))

    def test_an_email_cut_after_its_content_is_not_sent_again_without_its_owner(self):
        self.assertEqual(len(self.server.received), 1, "the server took the message whole, then hung up")
        self.assertEqual(self.mail.state, "exception")
        self.assertEqual(self.mail.failure_type, "mcl_fate_unknown")
        self.assertEqual(self.invoice.mcl_sending_status, "fate_unknown", "the invoice says it may have left")
        [todo] = self.maybe_sent_todos()
        self.assertEqual(todo.user_id, self.doctor)
        self.assertIn("Sent folder", todo.note)
        self.assertIn("It is not sent again without you", todo.note)
        self.assertEqual(len(self.maybe_sent_todos()), 1, "asked once")

        with freeze_time(fields.Datetime.now() + timedelta(days=2)):
            self.env["mail.mail"].process_email_queue()
        self.mailbox._mcl_requeue_failed_mails()  # as when the owner saves the mailbox again
        self.env["mail.mail"].process_email_queue()
        self.assertEqual(len(self.server.received), 1, "never sent twice by Odoo alone")

        with self.assertRaises(AccessError):
            self.invoice.with_user(self.physio).action_mcl_send_again()
        self.assertEqual(self.mail.state, "exception", "a colleague cannot decide for the owner")

        self.invoice.with_user(self.doctor).action_mcl_confirm_sent()
        self.assertEqual(self.mail.state, "sent")
        self.assertFalse(self.invoice.mcl_sending_status)
        self.assertFalse(self.maybe_sent_todos(), "the to-do is done")
        self.env["mail.mail"].process_email_queue()
        self.assertEqual(len(self.server.received), 1)

    def test_the_owner_sends_it_again_when_it_is_not_in_her_sent_folder(self):
        self.maybe_sent_todos()
        self.invoice.with_user(self.doctor).action_mcl_send_again()
        self.assertEqual(self.mail.state, "outgoing")
        self.assertFalse(self.maybe_sent_todos(), "the to-do is done")
        self.assertIn("Sent again at the request of", self.invoice.message_ids[:1].body)
        self.env["mail.mail"].process_email_queue()
        self.assertEqual(len(self.server.received), 2, "sent a second time, because she asked")


@tagged("post_install", "-at_install")
class TestSendJobRetry(InvoiceCase):
    def setUp(self):
        super().setUp()
        self.doctor_mailbox()
        self.invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        self.env["account.move.send.batch.wizard"].with_user(self.doctor).with_context(
            active_model="account.move", active_ids=self.invoices.ids,
        ).create({}).action_send_and_print()
        self.cron = self.env.ref("account.ir_cron_account_move_send")
        # The job runs in a transaction of its own, rolled back when it fails, as in a cron worker.
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)

    def run_job_failing(self):
        """Run the send job as a cron worker does, while another transaction updates the same invoices."""
        conflict = psycopg2.errors.SerializationFailure("could not serialize access due to concurrent update")
        # Not assertRaises: it would roll back, with its own savepoint, what the failed run committed apart.
        failure = None
        with patch.object(self.registry["account.move.send"], "_generate_and_send_invoices", side_effect=conflict):
            try:
                self.run_job()
            except psycopg2.errors.SerializationFailure as error:
                failure = error
        self.assertIs(failure, conflict, "the run failed")

    def run_job(self):
        self.env.flush_all()
        with self.registry.cursor() as cr:
            cron = api.Environment(cr, SUPERUSER_ID, {})["ir.cron"].browse(self.cron.id)
            cron._callback(cron.cron_name, cron.ir_actions_server_id.id)
        self.env.invalidate_all()

    def triggers(self):
        return self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).mapped("call_at")

    def notifications(self):
        return self.env["bus.bus"].search([("message", "like", "Invoices waiting")])

    def test_a_failed_run_is_retried_within_minutes_and_the_sender_told_once(self):
        before = set(self.triggers())
        started = fields.Datetime.now()
        self.run_job_failing()
        [retry] = set(self.triggers()) - before
        self.assertLessEqual(retry - started, timedelta(minutes=2), "soon, not the next day")
        self.assertEqual(len(self.invoices.filtered("sending_data")), 3, "the invoices still wait")
        self.assertEqual(set(self.invoices.mapped("mcl_sending_status")), {"queued"}, "and say so")
        [notification] = self.notifications()
        self.assertEqual(json.loads(notification.channel), [self.env.cr.dbname, "res.partner", self.doctor.partner_id.id], "to the doctor, who sent them")
        self.assertIn("3 invoice(s) are waiting to be sent", notification.message)
        self.assertIn("another task was changing the same invoices", notification.message)

        self.cron.failure_count = 1  # as Odoo counts it after that run
        before = set(self.triggers())
        self.run_job_failing()
        [retry] = set(self.triggers()) - before
        self.assertGreater(retry - fields.Datetime.now(), timedelta(seconds=100), "further apart")
        self.assertEqual(len(self.notifications()), 1, "told once, not at every try")

        self.cron.failure_count = 0
        self.run_job()  # the next run succeeds
        self.assertFalse(self.invoices.filtered("sending_data"))
        self.assertEqual(len(self.invoice_mails(self.invoices)), 3)


@tagged("post_install", "-at_install")
class TestTellingTheOwner(InvoiceCase):
    def test_telling_the_owner_writes_no_invoice_and_sends_no_email(self):
        mailbox = self.doctor_mailbox()
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        self.stack.set_smtp_reply(self.doctor_address, "535 5.7.8 Username and Password not accepted")
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)
        for invoice in invoices:
            self.send_wizard(self.doctor, invoice).action_send_and_print()
        self.env.flush_all()
        self.env.cr.execute("SELECT id, write_date FROM account_move WHERE id IN %s", [tuple(invoices.ids)])
        written = dict(self.env.cr.fetchall())
        mails_before = self.env["mail.mail"].sudo().search_count([])
        self.assertTrue(self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_report_failures").id)]),
            "the owner is told by a job of its own, after the sending")

        self.env["ir.mail_server"]._cron_mcl_report_failures()
        self.env.flush_all()

        self.env.cr.execute("SELECT id, write_date FROM account_move WHERE id IN %s", [tuple(invoices.ids)])
        self.assertEqual(dict(self.env.cr.fetchall()), written, "no invoice row written: no conflict with a send")
        self.assertEqual(self.env["mail.mail"].sudo().search_count([]), mails_before,
                         "no email about a mailbox that cannot send")
        [todo] = self.env["mail.activity"].search([("mcl_mail_server_id", "=", mailbox.id)])
        self.assertEqual(todo.user_id, self.doctor)
        self.assertIn("2 email(s) wait", todo.note)
        self.env["ir.mail_server"].with_context(lang="fr_FR")._cron_mcl_report_failures()
        self.assertEqual(len(self.env["mail.activity"].search([("mcl_mail_server_id", "=", mailbox.id)])), 1,
                         "once per mailbox, however often it runs")
