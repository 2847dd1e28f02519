"""A personal mailbox whose server trickles or floods its replies holds neither the mail queue nor the
worker's memory (security review F6).

The hostile server passes the set-up test, then, when the queue sends, accepts the login and answers
MAIL FROM with endless "250-" lines: slowly (a byte now and then never trips a socket timeout) or all
at once (smtplib alone keeps every line of a reply in memory).
"""

import time

from odoo import fields
from odoo.tests import tagged

from .common import MailboxCase
from .hostile_servers import TRICKLE_SECONDS, HostileServer, server_tls_context

CONNECTION_TIMEOUT = 3  # seconds: MailboxCase's mcl_mailbox.connection_timeout
MESSAGE_TIMEOUT = 3  # seconds: mcl_mailbox.message_timeout in these tests
# Connecting and logging in, one message, and saying goodbye, each bounded; three times that, for a loaded machine.
QUEUE_BOUND = 3 * (2 * CONNECTION_TIMEOUT + MESSAGE_TIMEOUT)


@tagged("post_install", "-at_install")
class TestBoundedSendingSessions(MailboxCase):
    def setUp(self):
        super().setUp()
        self.assertLess(QUEUE_BOUND, TRICKLE_SECONDS, "the trickle outlasts the bound")
        self.env["ir.config_parameter"].sudo().set_param("mcl_mailbox.message_timeout", str(MESSAGE_TIMEOUT))
        self.patient, self.patient_password = self.new_account()
        address, password = self.new_account()
        self.other_mailbox = self.connect_mailbox(self.physio, address, password)

    def hostile_mailbox(self, behaviour):
        """The doctor's mailbox on a server that behaves for the set-up test (with the stack's certificate)."""
        tls = self.stack.layout.tls_dir
        server = HostileServer(behaviour, server_tls_context(tls / "server.pem", tls / "server.key"))
        self.addCleanup(server.stop)
        address, password = self.new_account()
        return self.connect_mailbox(self.doctor, address, password, smtp_port=server.port)

    def queue(self, author, mailbox):
        """An email ``author`` writes from ``mailbox``, waiting in the queue."""
        return self.env["mail.mail"].with_user(author).sudo().create({
            "email_from": mailbox.mcl_email,
            "email_to": self.patient,
            "subject": f"Facture de {author.name}",
            "body_html": "<p>Bonjour, voici votre facture.</p>",
            "author_id": author.partner_id.id,
        })

    def assert_the_queue_goes_on(self, behaviour, expected, retried):
        mailbox = self.hostile_mailbox(behaviour)
        stuck = self.queue(self.doctor, mailbox)
        other = self.queue(self.physio, self.other_mailbox)
        start = time.monotonic()
        self.env["mail.mail"].process_email_queue(ids=(stuck | other).ids)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, QUEUE_BOUND, "the hostile server held the mail queue")
        self.assertEqual(other.state, "sent", other.failure_reason)
        [received] = self.stack.fetch_messages(self.patient, self.patient_password)
        self.assertEqual(received["Subject"], f"Facture de {self.physio.name}", "the other user's email arrived")
        if retried:  # a server that does not answer in time may be slow for now: it is tried again later
            self.assertEqual(stuck.state, "outgoing", "kept in the queue for a later try")
            self.assertEqual(stuck.mcl_retry_count, 1)
            self.assertGreater(stuck.scheduled_date, fields.Datetime.now(), "not at once: later")
        else:
            self.assertEqual(stuck.state, "exception", "the email through the hostile server failed")
            self.assertIn(stuck.failure_type, ("mail_smtp", "unknown"), "kept, to be sent again once the mailbox works")
        self.assertIn(expected, stuck.failure_reason)
        self.assertNotIn("Traceback", stuck.failure_reason)
        self.assertEqual(mailbox.mcl_state, "attention")
        self.assertIn(expected, mailbox.mcl_diagnosis)

    def test_a_server_trickling_its_reply_is_cut_at_the_message_deadline(self):
        self.assert_the_queue_goes_on("trickle_after_login", "did not answer within", retried=True)

    def test_a_server_flooding_its_reply_is_cut_after_a_few_lines(self):
        """The reply is cut after 100 lines (bounded memory) instead of 200,000 being kept and accepted."""
        self.assert_the_queue_goes_on("flood_after_login", "went over 100 lines", retried=False)

    def test_every_email_of_a_cut_session_fails_and_is_kept(self):
        """The session is gone after the first email: the next one fails too, instead of stopping the
        whole queue (Odoo re-raises a lost connection) with emails left half-processed."""
        mailbox = self.hostile_mailbox("trickle_after_login")
        stuck = self.queue(self.doctor, mailbox) | self.queue(self.doctor, mailbox)
        other = self.queue(self.physio, self.other_mailbox)
        start = time.monotonic()
        self.env["mail.mail"].process_email_queue(ids=(stuck | other).ids)
        self.assertLess(time.monotonic() - start, QUEUE_BOUND)
        self.assertEqual(stuck.mapped("state"), ["outgoing", "outgoing"], "both kept for a later try")
        self.assertEqual(stuck.mapped("mcl_retry_count"), [1, 1])
        self.assertEqual(other.state, "sent", other.failure_reason)

    def test_without_the_parameter_a_message_has_six_connection_timeouts(self):
        """Unset, the message deadline is not one second (Odoo's get_param gives False): a provider a few
        hundred milliseconds away would fail every email."""
        self.env["ir.config_parameter"].sudo().search([("key", "=", "mcl_mailbox.message_timeout")]).unlink()
        IrMailServer = self.env["ir.mail_server"]
        self.assertEqual(IrMailServer._mcl_message_timeout(), 6 * IrMailServer._mcl_timeout())
        self.assertGreater(IrMailServer._mcl_message_timeout(), 1.0, "not the one-second floor")
