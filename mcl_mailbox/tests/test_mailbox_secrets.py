"""The app password is encrypted with a key outside the database and never comes back."""

import os
import subprocess
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo import api
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import config

from .common import MailboxCase


@tagged("post_install", "-at_install")
class TestMailboxSecrets(MailboxCase):
    def without_keys(self):
        return patch.dict(config.options, {"mcl_mailbox_keys": ""}), patch.dict(os.environ, {"MCL_MAILBOX_KEYS": ""})

    def test_missing_key_is_explained_and_nothing_is_saved(self):
        address, password = self.new_account()
        config_patch, env_patch = self.without_keys()
        with config_patch, env_patch, self.assertRaisesRegex(UserError, "mcl_mailbox_keys") as caught:
            self.setup_form(self.doctor, address, password)
        self.assertIn("Fernet.generate_key", str(caught.exception))
        self.assertNotIn(password, str(caught.exception))

    def test_invalid_key_is_explained(self):
        address, password = self.new_account()
        with patch.dict(config.options, {"mcl_mailbox_keys": "not-a-key"}), \
                self.assertRaisesRegex(UserError, "not a valid Fernet key"):
            self.setup_form(self.doctor, address, password)

    def test_a_password_from_another_key_asks_to_re_enter_it(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        with patch.dict(config.options, {"mcl_mailbox_keys": Fernet.generate_key().decode()}):
            mailbox.invalidate_recordset()
            self.assertEqual(mailbox.mcl_state, "attention")
            self.assertIn("Re-enter your app password", mailbox.mcl_diagnosis)
            self.assertIn(mailbox, self.env["ir.mail_server"].sudo().search([("mcl_state", "=", "attention")]))
            with self.assertRaisesRegex(UserError, "re-enter your app password"):
                self.stored_password(mailbox)
            patient, _pw = self.new_account()
            mail = self.send_mail(self.doctor, address, patient)
            self.assertEqual(mail.state, "exception")
            self.assertIn("re-enter your app password", mail.failure_reason)
            # re-entering the password fixes it, with the settings kept
            form = self.env["mcl.mailbox.setup"].browse(
                mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
            form.mcl_password = password
            form.action_test_and_save()
            mailbox.invalidate_recordset()
            self.assertEqual(mailbox.mcl_state, "connected", form.diagnosis)

    def test_new_terms_version_asks_for_a_new_acceptance(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        mailbox.mcl_consent_version = "2000-01"
        self.assertEqual(mailbox.mcl_state, "attention")
        self.assertIn("terms of use changed", mailbox.mcl_diagnosis)
        form = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"])
        self.assertFalse(form.terms_accepted)

    def test_password_never_comes_back(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        for user in (self.doctor, self.admin):
            as_user = mailbox.with_user(user)
            self.assertFalse(as_user.read(["mcl_password"])[0]["mcl_password"])
            self.assertFalse(as_user.web_read({"mcl_password": {}})[0]["mcl_password"])
            with self.assertRaises(AccessError):
                as_user.web_read({"mcl_password_token": {}})
        as_admin = mailbox.with_user(self.admin)
        self.assertEqual(as_admin.export_data(["mcl_password"])["datas"], [[""]])
        with self.assertRaises(AccessError):
            as_admin.export_data(["mcl_password_token"])

    def test_rpc_calls_logged_at_debug_level_mask_the_password(self):
        address, password = self.new_account()
        with self.assertLogs("odoo.api", level="DEBUG") as logs:
            api.call_kw(self.env["mcl.mailbox.setup"].with_user(self.doctor), "create",
                        [{"email": address, "mcl_password": password}], {})
        output = "\n".join(logs.output)
        self.assertIn(address, output, "the call itself is logged")
        self.assertNotIn(password, output)

    def test_database_dump_holds_no_clear_password(self):
        address, password = self.new_account()
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            mailbox = env["ir.mail_server"].sudo().create({
                "name": "Dump", "owner_user_id": self.env.ref("base.user_admin").id, "mcl_email": address,
                "from_filter": address, "smtp_host": "localhost", "smtp_user": address, "mcl_password": password,
            })
            # pg_dump only sees committed rows
            cr.commit()  # pylint: disable=invalid-commit
            try:
                dump = subprocess.run(["pg_dump", "--data-only", "-t", "ir_mail_server", cr.dbname],
                                      capture_output=True, text=True, check=True).stdout
            finally:
                mailbox.unlink()
                cr.commit()  # pylint: disable=invalid-commit
        self.assertIn(address, dump, "the dump does hold the mailbox")
        self.assertNotIn(password, dump)
