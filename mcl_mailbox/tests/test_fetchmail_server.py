"""Presets, encrypted password and a verified test for Odoo's incoming servers."""

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import MailboxCase


@tagged("post_install", "-at_install")
class TestFetchmailServer(MailboxCase):
    def incoming_server(self, address, password):
        form = Form(self.env["fetchmail.server"].with_user(self.admin))
        form.name = "Practice inbox"
        form.mcl_provider_id = self.provider
        form.user = address
        form.mcl_password = password
        return form.save()

    def test_preset_fills_the_imap_settings(self):
        address, password = self.new_account()
        server = self.incoming_server(address, password)
        self.assertEqual((server.server, server.port, server.is_ssl), ("localhost", self.ports["imaps"], True))

    def test_password_is_stored_encrypted_only(self):
        address, password = self.new_account()
        server = self.incoming_server(address, password)
        self.assertFalse(server.password, "no clear password in Odoo's own column")
        self.assertTrue(server.mcl_has_password)
        self.assertNotIn(password, server.sudo().mcl_password_token)

    def test_odoo_connects_with_the_decrypted_password(self):
        address, password = self.new_account()
        server = self.incoming_server(address, password)
        connection = server.connect()
        try:
            self.assertEqual(connection.select("INBOX")[0], "OK")
        finally:
            connection.logout()
        self.assertEqual(server.action_mcl_test_connection()["params"]["type"], "success")

    def test_a_failure_is_explained(self):
        address, _password = self.new_account()
        server = self.incoming_server(address, "wrong-password")
        with self.assertRaisesRegex(UserError, "Incoming mail \\(IMAP\\).*refused the login"):
            server.action_mcl_test_connection()

    def test_an_untrusted_certificate_is_refused(self):
        address, password = self.new_account()
        server = self.incoming_server(address, password)
        server.write({"port": self.ports["smtps_untrusted"], "mcl_password": password})
        with self.assertRaisesRegex(UserError, "not signed by a trusted authority"):
            server.action_mcl_test_connection()

    def test_a_personal_mailbox_never_becomes_a_fetchmail_server(self):
        before = self.env["fetchmail.server"].search_count([])
        address, password = self.new_account()
        self.connect_mailbox(self.doctor, address, password)
        self.assertEqual(self.env["fetchmail.server"].search_count([]), before)
