"""The user flows in a real browser (Chromium), against the local mail stack."""

from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests import common as odoo_test_common

from .common import MailboxCase

# A fresh database builds its web assets on the first tour: allow for it.
TOUR_TIMEOUT = 180
ADDRESS = "tour.user@practice.test"  # the addresses and passwords typed by the tours
GOOD_PASSWORD = "abcdefghijklmnop"  # typed as "abcd efgh ijkl mnop"
NEW_PASSWORD = "qrstuvwxyzabcdef"  # typed as "qrst uvwx yzab cdef"
# Odoo waits 10 s for Chromium's devtools port, then skips the test: on a loaded 2-core machine a
# start can take longer. A skip fails the run here, so wait up to a minute.
BROWSER_START_CHECKS = 600  # of CHECK_BROWSER_SLEEP (0.1 s) each


class TourCase(HttpCase):
    """A browser test whose Chromium may take up to a minute to start."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(patch.object(odoo_test_common, "CHECK_BROWSER_ITERATIONS", BROWSER_START_CHECKS))


@tagged("post_install", "-at_install")
class TestMailboxTours(MailboxCase, TourCase):
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
