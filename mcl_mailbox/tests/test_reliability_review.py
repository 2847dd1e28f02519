"""Review of issue 13 (batches finish by themselves): what the owner and the patient notice.

- an email the owner confirmed as sent no longer shows as failed in the invoice's chatter, nor in the
  owner's failures (where Odoo's "Resend" would send it a second time);
- a provider that greylists one email ("451 try again later" after its content) does not put the
  mailbox in "needs attention" while Odoo retries it by itself, and the owner's to-do closes once it left.
"""

import itertools
from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .hostile_servers import HostileServer, ThreadedTCPServer, _Session, server_tls_context
from .test_invoice_sending import InvoiceCase


class _GreylistingSession(_Session):
    def greylist_first_message(self):
        """SMTP over TLS that passes the set-up test, then answers the content of the first message it is
        sent with "451 4.7.1 Greylisted" (it keeps nothing), and takes every later message."""
        hostile = next(self.server.sessions) > 0  # the first connection is the set-up test
        sock = self._tls()
        sock.sendall(b"220 localhost ESMTP\r\n")
        lines = sock.makefile("rb")
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                sock.sendall(b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"AUTH":
                sock.sendall(b"235 2.7.0 Authentication successful\r\n")
            elif verb == b"DATA":
                sock.sendall(b"354 go ahead\r\n")
                body = list(itertools.takewhile(lambda body: body.rstrip(b"\r\n") != b".", lines))
                if hostile and not self.server.greylisted:
                    self.server.greylisted.append(True)
                    sock.sendall(b"451 4.7.1 Greylisted, please try again later\r\n")
                    continue
                if hostile:
                    self.server.received.append(b"".join(body).decode("utf-8", "replace"))
                sock.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"250 2.0.0 OK\r\n")


class GreylistingServer(HostileServer):
    def __init__(self, tls_context):
        self.behaviour = "greylist_first_message"
        self.tls_context = tls_context
        self.received = []
        self.greylisted = []
        self.sessions = itertools.count()
        ThreadedTCPServer.__init__(self, _GreylistingSession)


@tagged("post_install", "-at_install")
class TestMaybeSentReview(InvoiceCase):
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
        self.message = self.mail.mail_message_id
        self.env["ir.mail_server"]._cron_mcl_report_failures()

    def failures_of(self, user):
        """The invoice's messages ``user`` sees failed (the chatter's red envelope, which opens Odoo's Resend;
        the author's messaging menu)."""
        return self.env["mail.message"].with_user(user).search([
            ("model", "=", "account.move"), ("res_id", "=", self.invoice.id), ("has_error", "=", True),
        ])

    def emails_to_the_patient(self):
        return self.env["mail.mail"].sudo().search([("recipient_ids", "in", self.patient.ids)])

    def test_nobody_resends_a_maybe_sent_email_from_the_chatter(self):
        self.assertEqual(self.mail.failure_type, "mcl_fate_unknown")
        self.assertEqual(self.invoice.mcl_sending_status, "fate_unknown", "the invoice says it may have left")
        for user in (self.physio, self.doctor):
            self.assertNotIn(self.message, self.failures_of(user), "no red envelope inviting Odoo's Resend")
            # What the red envelope opens: Odoo's Resend, for every recipient whose email failed.
            self.env["mail.resend.message"].with_user(user).with_context(
                mail_message_to_resend=self.message.id).create({}).resend_mail_action()
        self.env["mail.mail"].process_email_queue()

        self.assertEqual(self.emails_to_the_patient(), self.mail, "the patient is sent nothing more")
        self.assertEqual(len(self.server.received), 1)
        self.assertEqual(self.invoice.mcl_sending_status, "fate_unknown", "its owner still decides")

    def test_an_email_confirmed_as_sent_shows_as_sent(self):
        self.invoice.with_user(self.doctor).action_mcl_confirm_sent()

        self.assertEqual(set(self.message.notification_ids.mapped("notification_status")), {"sent"},
                         "she found it in her Sent folder: the chatter says it left")
        self.assertNotIn(self.message, self.failures_of(self.doctor))
        self.env["mail.mail"].process_email_queue()
        self.assertEqual(len(self.server.received), 1)


@tagged("post_install", "-at_install")
class TestGreylistedEmail(InvoiceCase):
    def setUp(self):
        super().setUp()
        tls = self.stack.layout.tls_dir
        self.server = GreylistingServer(server_tls_context(tls / "server.pem", tls / "server.key"))
        self.addCleanup(self.server.stop)
        address, password = self.new_account()
        self.doctor.mcl_invoice_template_id = self.template
        self.mailbox = self.connect_mailbox(self.doctor, address, password, smtp_port=self.server.port)

    def todos(self):
        return self.env["mail.activity"].search([
            ("mcl_mail_server_id", "=", self.mailbox.id),
            ("activity_type_id", "=", self.env.ref("mcl_mailbox.mail_activity_type_mailbox_failure").id),
        ])

    def test_a_greylisted_email_is_retried_without_the_mailbox_needing_attention(self):
        invoice = self.make_invoice(self.doctor)
        self.send_wizard(self.doctor, invoice).action_send_and_print()
        [mail] = self.invoice_mails(invoice)
        self.assertEqual(self.server.greylisted, [True], "the provider said: try again later")
        self.assertEqual((mail.state, mail.mcl_retry_count), ("outgoing", 1), "Odoo tries again by itself")

        self.env["ir.mail_server"]._cron_mcl_report_failures()  # its hourly run, or another mailbox's failure

        self.assertEqual(self.mailbox.mcl_state, "connected", "a greylisted email is no fault of the mailbox")
        other = self.make_invoice(self.doctor)
        self.assertTrue(other.with_user(self.doctor).mcl_one_click_label, "she still sends in one click")
        self.assertFalse(self.todos().filtered(lambda todo: "Test connection and save" in (todo.note or "")),
                         "she is not asked to fix a mailbox that works")

        report = self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_report_failures")
        self.env["ir.cron.trigger"].search([("cron_id", "=", report.id)]).unlink()
        with freeze_time(mail.scheduled_date + timedelta(seconds=1)):
            self.env["mail.mail"].process_email_queue()
        self.assertEqual(len(self.server.received), 1, "it left on the retry, once")
        self.assertEqual(invoice.mcl_sending_status, False)

        self.assertTrue(self.env["ir.cron.trigger"].search_count([("cron_id", "=", report.id)]),
                        "her to-do is brought up to date now, not at the next hourly run")
        self.env["ir.mail_server"]._cron_mcl_report_failures()
        self.assertFalse(self.todos(), "nothing waits any more: no to-do is left open")
        self.assertEqual(self.mailbox.mcl_state, "connected", "and her mailbox shows no problem")
