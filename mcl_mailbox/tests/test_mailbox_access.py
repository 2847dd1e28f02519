"""Who sees and changes which mailbox: two practitioners, a secretary, an administrator."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MailboxCase


@tagged("post_install", "-at_install")
class TestMailboxAccess(MailboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.env["ir.mail_server"].create({"name": "Practice server", "smtp_host": "localhost"})
        address, password = cls.new_account()
        cls.doctor_mailbox = cls.env["ir.mail_server"].sudo().create({
            "name": "Doctor", "owner_user_id": cls.doctor.id, "mcl_email": address, "from_filter": address,
            "smtp_host": "localhost", "smtp_user": address, "mcl_password": password,
        })
        address, password = cls.new_account()
        cls.physio_mailbox = cls.env["ir.mail_server"].sudo().create({
            "name": "Physio", "owner_user_id": cls.physio.id, "mcl_email": address, "from_filter": address,
            "smtp_host": "localhost", "smtp_user": address, "mcl_password": password,
        })

    def test_users_see_only_their_own_mailboxes(self):
        Servers = self.env["ir.mail_server"]
        self.assertEqual(Servers.with_user(self.doctor).search([]), self.doctor_mailbox)
        self.assertEqual(Servers.with_user(self.physio).search([]), self.physio_mailbox)
        self.assertFalse(Servers.with_user(self.secretary).search([]))
        with self.assertRaises(AccessError):
            self.physio_mailbox.with_user(self.doctor).read(["name"])
        with self.assertRaises(AccessError):
            self.shared.with_user(self.secretary).read(["smtp_host"])

    def test_preferences_list_the_own_mailboxes(self):
        data = self.doctor.with_user(self.doctor).read(["mcl_mailbox_ids"])[0]
        self.assertEqual(data["mcl_mailbox_ids"], self.doctor_mailbox.ids)

    def test_users_change_mailboxes_only_through_the_tested_form(self):
        with self.assertRaises(AccessError):
            self.doctor_mailbox.with_user(self.doctor).write({"smtp_host": "evil.example"})
        with self.assertRaises(AccessError):
            self.env["ir.mail_server"].with_user(self.doctor).create({"name": "x", "smtp_host": "evil.example"})
        with self.assertRaises(AccessError):
            self.physio_mailbox.with_user(self.doctor).unlink()

    def test_an_owner_can_remove_their_mailbox(self):
        self.doctor_mailbox.with_user(self.doctor).unlink()
        self.assertFalse(self.doctor_mailbox.exists())

    def test_nobody_opens_another_users_mailbox_form(self):
        with self.assertRaises(AccessError):
            self.physio_mailbox.with_user(self.doctor).action_mcl_open_setup()
        with self.assertRaises(AccessError):
            self.physio_mailbox.with_user(self.secretary).action_mcl_open_setup()

    def test_administrators_manage_all_but_never_read_a_password(self):
        Servers = self.env["ir.mail_server"].with_user(self.admin)
        self.assertLessEqual(self.doctor_mailbox | self.physio_mailbox, Servers.search([]))
        values = self.doctor_mailbox.with_user(self.admin).read(["mcl_password", "mcl_has_password", "smtp_pass"])[0]
        self.assertFalse(values["mcl_password"])
        self.assertFalse(values["smtp_pass"])
        self.assertTrue(values["mcl_has_password"])
        with self.assertRaises(AccessError):
            self.doctor_mailbox.with_user(self.admin).read(["mcl_password_token"])
        with self.assertRaises(AccessError):
            Servers.search([("mcl_password_token", "!=", False)])

    def test_a_mail_from_another_users_address_does_not_use_their_mailbox(self):
        mail = self.env["mail.mail"].with_user(self.doctor).sudo().create({
            "email_from": self.physio_mailbox.mcl_email,
            "email_to": "patient@patients.test",
            "subject": "Not mine",
            "body_html": "<p>x</p>",
            "author_id": self.doctor.partner_id.id,
        })
        [(server_id, _alias, _smtp_from, ids)] = list(mail._split_by_mail_configuration())
        self.assertEqual(ids, mail.ids)
        self.assertNotEqual(server_id, self.physio_mailbox.id)

    def test_without_shared_server_another_users_address_still_avoids_their_mailbox(self):
        self.shared.unlink()
        mail = self.env["mail.mail"].sudo().create({
            "email_from": self.physio_mailbox.mcl_email,
            "email_to": "patient@patients.test",
            "subject": "Not mine",
            "body_html": "<p>x</p>",
            "author_id": self.doctor.partner_id.id,
        })
        [(server_id, _alias, smtp_from, _ids)] = list(mail._split_by_mail_configuration())
        self.assertFalse(server_id)
        connecting_to = self.env["ir.mail_server"]._mcl_mailbox_to_connect(server_id, None, smtp_from)
        self.assertNotEqual(connecting_to, self.physio_mailbox, "the connection must not lead back to it")

    def test_the_owner_mail_uses_their_mailbox(self):
        mail = self.env["mail.mail"].with_user(self.doctor).sudo().create({
            "email_from": self.doctor_mailbox.mcl_email,
            "email_to": "patient@patients.test",
            "subject": "Mine",
            "body_html": "<p>x</p>",
            "author_id": self.doctor.partner_id.id,
        })
        [(server_id, _alias, _smtp_from, _ids)] = list(mail._split_by_mail_configuration())
        self.assertEqual(server_id, self.doctor_mailbox.id)

    def test_personal_mailboxes_are_not_a_fallback(self):
        Servers = self.env["ir.mail_server"].sudo()
        for sender in ("someone@elsewhere.test", "other@practice.test", False):
            server, _from = Servers._find_mail_server(sender)
            self.assertFalse(server.owner_user_id, f"{sender} must not use a personal mailbox")
        self.shared.unlink()
        server, _from = Servers._find_mail_server("someone@elsewhere.test")
        self.assertFalse(server, "with only personal mailboxes, other mail uses Odoo's own settings")
