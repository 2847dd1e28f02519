"""The user flows in a real browser (Chromium), against the local mail stack."""

from odoo.tests import HttpCase, tagged

from .common import MailboxCase

# A fresh database builds its web assets on the first tour: allow for it.
TOUR_TIMEOUT = 180
ADDRESS = "tour.user@practice.test"  # the addresses and passwords typed by the tours
GOOD_PASSWORD = "abcdefghijklmnop"  # typed as "abcd efgh ijkl mnop"
NEW_PASSWORD = "qrstuvwxyzabcdef"  # typed as "qrst uvwx yzab cdef"


@tagged("post_install", "-at_install")
class TestMailboxTours(MailboxCase, HttpCase):
    def mailbox(self):
        return self.env["ir.mail_server"].sudo().search([("mcl_email", "=", ADDRESS)])

    def test_add_a_mailbox_from_preferences(self):
        self.stack.add_user(ADDRESS, GOOD_PASSWORD)
        self.start_tour("/odoo", "mcl_mailbox_add_from_preferences", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        mailbox = self.mailbox()
        self.assertEqual(mailbox.owner_user_id, self.doctor)
        self.assertEqual(mailbox.name, "Cabinet")
        self.assertIn("Dr Tour", mailbox.mcl_signature)
        self.assertEqual(self.stored_password(mailbox), GOOD_PASSWORD)

    def test_reenter_a_revoked_password(self):
        self.stack.add_user(ADDRESS, GOOD_PASSWORD)
        mailbox = self.connect_mailbox(self.doctor, ADDRESS, GOOD_PASSWORD)
        self.stack.add_user(ADDRESS, NEW_PASSWORD)  # Google revoked the app password
        patient, _password = self.new_account()
        self.send_mail(self.doctor, ADDRESS, patient)
        self.assertEqual(mailbox.mcl_state, "attention")

        self.start_tour("/odoo", "mcl_mailbox_reenter_password", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        mailbox.invalidate_recordset()
        self.assertEqual(mailbox.mcl_state, "connected")
        self.assertEqual(self.stored_password(mailbox), NEW_PASSWORD)
        self.assertEqual(len(self.mailbox()), 1)
