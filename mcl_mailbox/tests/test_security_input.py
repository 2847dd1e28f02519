"""Hostile and broken input: a specific message, no traceback, nothing half-saved."""

import time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MailboxCase
from .hostile_servers import HostileServer, server_tls_context


@tagged("post_install", "-at_install")
class TestHostileInput(MailboxCase):
    def saved(self, address):
        return self.env["ir.mail_server"].sudo().with_context(active_test=False).search([("mcl_email", "=", address)])

    def assert_refused(self, pattern, address=None, **values):
        address = address or self.new_account()[0]
        with self.assertRaisesRegex(UserError, pattern):
            self.setup_form(self.doctor, address, "not-tested", **values).action_test_and_save()
        self.assertFalse(self.saved(address))

    def assert_fails(self, expected, **values):
        """The test runs, fails with ``expected``, and saves nothing; return the seconds it took."""
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, **values)
        start = time.monotonic()
        form.action_test_and_save()
        elapsed = time.monotonic() - start
        self.assertIn(expected, form.diagnosis or "")
        self.assertNotIn("Traceback", form.diagnosis)
        self.assertFalse(self.saved(address), "nothing is saved")
        self.assertFalse(form.sudo().mcl_password_token, "the typed password is dropped")
        return elapsed

    def test_very_long_and_non_latin_values(self):
        address, password = self.new_account()
        label = "Cabinet médical — 診療所 — " + "é" * 10000
        mailbox = self.connect_mailbox(self.doctor, address, password, name=label)
        self.assertEqual(mailbox.name, label, "kept whole, as text")
        self.assert_refused("is not a server name", smtp_host="smtp.почта.рф")
        self.assert_refused("is not a server name", imap_host="imap." + "a" * 10000 + ".test")
        self.assert_refused("too long", address="a" * 10000 + "@practice.test")

    def test_non_latin_address(self):
        for address in ("клэр@practice.test", "claire@cabinet-médical.test"):
            self.assert_refused("in Latin characters", address=address)

    def test_html_and_script_in_label_and_signature(self):
        address, password = self.new_account()
        patient, patient_password = self.new_account()
        label = '<img src=x onerror="alert(1)"><script>alert(2)</script>Cabinet'
        form = self.setup_form(self.doctor, address, password, name=label,
                               signature='<p>Dr Martin</p><script>alert(3)</script><img src=x onerror="alert(4)">')
        action = form.action_test_and_save()
        mailbox = self.saved(address)
        self.assertEqual(mailbox.name, label, "the label is plain text, stored as typed")
        self.assertIn(label, action["params"]["message"], "and shown as text (the notification escapes it)")
        for stored in (mailbox.mcl_signature, form.signature):
            self.assertIn("Dr Martin", stored)
            self.assertNotIn("<script", stored)
            self.assertNotIn("onerror", stored)
        self.assertEqual(self.send_mail(self.doctor, address, patient).state, "sent")
        [received] = self.stack.fetch_messages(patient, patient_password)
        body = received.get_body(("html",)).get_content()
        self.assertIn("Dr Martin", body)
        self.assertNotIn("<script", body)

    def test_a_server_that_never_answers_is_given_up_in_bounded_time(self):
        server = HostileServer("silent")
        self.addCleanup(server.stop)
        elapsed = self.assert_fails("did not answer within", smtp_port=server.port)
        self.assertLess(elapsed, 3 + 2, "the connection timeout (3 s here) bounds the test")

    def test_a_server_that_closes_during_the_tls_handshake(self):
        server = HostileServer("close_in_handshake")
        self.addCleanup(server.stop)
        self.assert_fails("The secure connection could not be set up", smtp_port=server.port)

    def test_a_server_that_floods_bytes(self):
        server = HostileServer("flood", self.tls_context())
        self.addCleanup(server.stop)
        elapsed = self.assert_fails("not what a mail server says", smtp_port=server.port)
        self.assertLess(elapsed, 3 + 2)

    def test_a_server_that_offers_no_sign_in(self):
        server = HostileServer("no_auth", self.tls_context())
        self.addCleanup(server.stop)
        self.assert_fails("does not offer sign-in", smtp_port=server.port)

    def tls_context(self):
        """A server context with the stack's certificate for "localhost", which the test CA signs."""
        tls = self.stack.layout.tls_dir
        return server_tls_context(tls / "server.pem", tls / "server.key")
