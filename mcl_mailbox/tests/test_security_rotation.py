"""Key rotation: put a new key first, run one command, and every stored password moves to it."""

import configparser
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest.mock import patch

from cryptography.fernet import Fernet

import odoo
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import config

from ..core import vault
from ..models.mcl_mailbox_mixin import configured_keys
from .common import MailboxCase

ODOO_BIN = Path(odoo.__file__).resolve().parents[1] / "odoo-bin"


def using_keys(*keys):
    """Configure these keys, the first one current (as odoo.conf's mcl_mailbox_keys would)."""
    return patch.dict(config.options, {"mcl_mailbox_keys": ",".join(keys)})


@tagged("post_install", "-at_install")
class TestKeyRotation(MailboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.old_key = configured_keys()
        cls.new_key = vault.generate_key()

    def incoming_server(self):
        address, password = self.new_account()
        return self.env["fetchmail.server"].sudo().create({
            "name": "Practice inbox", "server_type": "imap", "server": "localhost", "port": self.ports["imaps"],
            "is_ssl": True, "user": address, "mcl_password": password,
        })

    def assert_sends(self, address):
        patient, _password = self.new_account()
        mail = self.send_mail(self.doctor, address, patient)
        self.assertEqual(mail.state, "sent", mail.failure_reason)

    def assert_receives(self, server):
        connection = server.connect()
        try:
            self.assertEqual(connection.select("INBOX")[0], "OK")
        finally:
            connection.logout()

    def test_every_secret_moves_to_the_new_key_and_mailboxes_keep_working(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        archived = self.connect_mailbox(self.physio, *self.new_account())
        archived.active = False
        inbox = self.incoming_server()
        secrets = (mailbox.sudo(), archived.sudo(), inbox.sudo())

        with using_keys(self.new_key, self.old_key):
            self.assert_sends(address)  # before the rotation, the old key still opens the password
            report = self.env["mcl.mailbox.mixin"]._mcl_rotate_secrets()
            self.assertEqual((report["ir.mail_server"]["rotated"], report["fetchmail.server"]["rotated"]), (2, 1))
            self.assertFalse(report["ir.mail_server"]["unreadable"] or report["fetchmail.server"]["unreadable"])
            for record in secrets:
                self.assertTrue(vault.uses_current_key(self.new_key, record.mcl_password_token), record)
            self.assert_sends(address)
            again = self.env["mcl.mailbox.mixin"]._mcl_rotate_secrets()
            self.assertEqual((again["ir.mail_server"]["rotated"], again["ir.mail_server"]["current"]), (0, 2),
                             "a second run changes nothing")

        with using_keys(self.new_key):  # the old key is removed
            mailbox.invalidate_recordset()
            self.assertEqual(mailbox.mcl_state, "connected", mailbox.mcl_diagnosis)
            self.assertEqual(self.stored_password(mailbox), password)
            self.assert_sends(address)
            self.assert_receives(inbox)

    def test_a_secret_no_key_opens_is_reported_and_left_untouched(self):
        mailbox = self.connect_mailbox(self.doctor, *self.new_account())
        lost = self.connect_mailbox(self.physio, *self.new_account())
        lost_token = vault.encrypt(vault.generate_key(), "from a key nobody has any more")
        lost.sudo().mcl_password_token = lost_token

        with using_keys(self.new_key, self.old_key):
            report = self.env["mcl.mailbox.mixin"]._mcl_rotate_secrets()
            self.assertEqual(report["ir.mail_server"]["unreadable"], lost.sudo())
            self.assertEqual(report["ir.mail_server"]["rotated"], 1)
            self.assertEqual(lost.sudo().mcl_password_token, lost_token, "left as it was")
            self.assertEqual(lost.mcl_state, "attention")
            self.assertIn("Re-enter your app password", lost.mcl_diagnosis)
            self.assertEqual(mailbox.mcl_state, "connected")

    def test_rotation_without_a_valid_key_changes_nothing(self):
        mailbox = self.connect_mailbox(self.doctor, *self.new_account())
        token = mailbox.sudo().mcl_password_token
        for keys in ("", "not-a-key"):
            with using_keys(keys), patch.dict("os.environ", {"MCL_MAILBOX_KEYS": ""}), \
                    self.assertRaisesRegex(UserError, "mcl_mailbox_keys"):
                self.env["mcl.mailbox.mixin"]._mcl_rotate_secrets()
        self.assertEqual(mailbox.sudo().mcl_password_token, token)


@tagged("post_install", "-at_install")
class TestRotateCommand(MailboxCase):
    """``odoo-bin mcl_mailbox`` run as the server administrator would, on this database."""

    def odoo_bin(self, *args, conf=None):
        command = [sys.executable, str(ODOO_BIN), f"--addons-path={config['addons_path']}", "mcl_mailbox", *args]
        if conf:
            command += ["-c", str(conf), "-d", self.env.cr.dbname]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)

    def conf_with_keys(self, directory, keys):
        """A copy of this run's odoo.conf with other keys."""
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(config.rcfile)
        parser["options"]["mcl_mailbox_keys"] = keys
        path = Path(directory) / "odoo.conf"
        with path.open("w") as file:
            parser.write(file)
        return path

    def test_genkey_prints_a_new_valid_key(self):
        first, second = (self.odoo_bin("genkey") for _ in range(2))
        self.assertEqual(first.returncode, 0, first.stderr)
        keys = [first.stdout.strip(), second.stdout.strip()]
        self.assertNotEqual(*keys)
        for key in keys:
            Fernet(key)  # raises if it is not a Fernet key

    def test_rotate_refuses_an_unknown_database(self):
        result = self.odoo_bin("rotate", "-c", config.rcfile, "-d", "mcl_no_such_database")
        self.assertEqual(result.returncode, 2)
        self.assertIn("does not exist", result.stderr)

    def test_rotate_reencrypts_the_committed_secrets(self):
        old_key, new_key = configured_keys(), vault.generate_key()
        address, password = self.new_account()
        lost_address, _lost_password = self.new_account()
        with self.registry.cursor() as cr, tempfile.TemporaryDirectory() as directory:
            servers = self.env(cr=cr)["ir.mail_server"].sudo()
            admin = self.env.ref("base.user_admin").id
            mailbox, lost = (servers.create({
                "name": name, "owner_user_id": admin, "mcl_email": email, "from_filter": email,
                "smtp_host": "localhost", "smtp_user": email, "mcl_password": password,
            }) for name, email in (("CLI", address), ("Lost", lost_address)))
            lost.mcl_password_token = vault.encrypt(vault.generate_key(), password)
            cr.commit()  # pylint: disable=invalid-commit
            try:
                result = self.odoo_bin("rotate", conf=self.conf_with_keys(directory, f"{new_key},{old_key}"))
                (mailbox | lost).invalidate_recordset()
                tokens = (mailbox.mcl_password_token, lost.mcl_password_token)
                binding = mailbox._mcl_binding()
                lost_name = lost.display_name  # read while its cursor is open
            finally:
                (mailbox | lost).unlink()
                cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(result.returncode, 2, "2: done, but a password needs re-entering\n" + result.stderr)
        self.assertIn("ir.mail_server: 1 re-encrypted, 0 already on the current key, 1 cannot be opened",
                      result.stdout)
        self.assertIn(f"cannot be opened: ir.mail_server id {lost.id} ({lost_name})", result.stdout)
        self.assertTrue(vault.uses_current_key(new_key, tokens[0]))
        self.assertTrue(vault.unseal(new_key, tokens[0], binding) == password, "the new key alone opens it")
        self.assertFalse(vault.can_decrypt(f"{new_key},{old_key}", tokens[1]), "the lost one is untouched")
        for output in (result.stdout, result.stderr):
            self.assertNotIn(password, output)
            self.assertNotIn(tokens[0], output)
