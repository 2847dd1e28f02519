"""A database restored without its key, or with another one: everything waits for the password, nothing is lost."""

import os
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import config

from .common import MailboxCase


@tagged("post_install", "-at_install")
class TestRestoredWithoutKey(MailboxCase):
    def restored_with(self, keys):
        """As if the database were restored on a server configured with ``keys``."""
        return patch.dict(config.options, {"mcl_mailbox_keys": keys}), patch.dict(os.environ, {"MCL_MAILBOX_KEYS": ""})

    def test_without_any_key_every_mailbox_needs_attention_and_nothing_is_lost(self):
        address, password = self.new_account()
        patient, _patient_password = self.new_account()
        mailboxes = self.connect_mailbox(self.doctor, address, password) | self.connect_mailbox(
            self.physio, *self.new_account())
        tokens = mailboxes.mapped("mcl_password_token")
        conf, environ = self.restored_with("")
        with conf, environ:
            mailboxes.invalidate_recordset()
            self.assertEqual(set(mailboxes.mapped("mcl_state")), {"attention"})
            for mailbox in mailboxes:
                self.assertIn("Re-enter your app password", mailbox.mcl_diagnosis)
            # the "Needs attention" filter of the list, as the owner uses it
            listed = self.env["ir.mail_server"].with_user(self.doctor).web_search_read(
                [("mcl_state", "=", "attention")], {"name": {}, "mcl_state": {}, "mcl_diagnosis": {}})
            self.assertEqual([record["id"] for record in listed["records"]], mailboxes[0].ids)
            mail = self.send_mail(self.doctor, address, patient)
            self.assertEqual(mail.state, "exception")
            self.assertIn("encryption key is missing", mail.failure_reason)
            self.assertIn("mcl_mailbox_keys", mail.failure_reason, "what to tell the administrator")
        self.assertEqual(mailboxes.mapped("mcl_password_token"), tokens, "nothing is lost")
        mailboxes.invalidate_recordset()
        self.assertEqual(self.stored_password(mailboxes[0]), password, "the right key brings it all back")

    def test_an_incoming_server_with_a_foreign_key_asks_for_the_password_again(self):
        address, password = self.new_account()
        server = self.env["fetchmail.server"].with_user(self.admin).create({
            "name": "Practice inbox", "server_type": "imap", "server": "localhost", "port": self.ports["imaps"],
            "is_ssl": True, "user": address, "mcl_password": password,
        })
        token = server.sudo().mcl_password_token
        conf, environ = self.restored_with(Fernet.generate_key().decode())
        with conf, environ:
            with self.assertRaisesRegex(UserError, "re-enter your app password"):
                server.action_mcl_test_connection()
            with self.assertRaisesRegex(UserError, "re-enter your app password"):
                server.connect()
            server.fetch_mail(raise_exception=False)  # the scheduler goes on: the failure is logged
            with self.assertRaisesRegex(ValidationError, "re-enter your app password"):
                server.fetch_mail()  # the "Fetch Now" button explains it
            self.assertEqual(server.sudo().mcl_password_token, token, "kept until the password is re-entered")
            server.mcl_password = password
            self.assertEqual(server.action_mcl_test_connection()["params"]["type"], "success")
