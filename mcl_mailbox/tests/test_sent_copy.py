"""A copy of what leaves through a personal mailbox lands in its Sent folder, once."""

import base64

from odoo.tests import tagged

from .common import MailboxCase


@tagged("post_install", "-at_install")
class TestSentCopy(MailboxCase):
    def setUp(self):
        super().setUp()
        self.address, self.password = self.new_account()
        self.patient, _pw = self.new_account()
        self.mailbox = self.connect_mailbox(self.doctor, self.address, self.password)
        self.Copies = self.env["mcl.mailbox.sent.copy"].sudo()

    def sent_folder(self):
        return self.stack.fetch_messages(self.address, self.password, folder="Sent")

    def test_the_copy_is_filed_later_and_exactly_once(self):
        mail = self.send_mail(self.doctor, self.address, self.patient, "Facture FAC/0042")
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        self.assertFalse(self.sent_folder(), "sending does not wait for the Sent folder")
        [copy] = self.Copies.search([("mail_server_id", "=", self.mailbox.id)])
        message_id = copy.message_id

        self.Copies._cron_file_sent_copies()
        [filed] = self.sent_folder()
        self.assertEqual(filed["Subject"], "Facture FAC/0042")
        self.assertEqual(filed["Message-Id"], message_id)
        self.assertFalse(copy.exists())

        # a retry of the same message (say the cron's transaction was lost) finds it there
        self.Copies.create({"mail_server_id": self.mailbox.id, "message_id": filed["Message-Id"],
                            "raw_message": base64.b64encode(filed.as_bytes())})
        self.Copies._cron_file_sent_copies()
        self.assertEqual(len(self.sent_folder()), 1)
        self.assertFalse(self.Copies.search([("mail_server_id", "=", self.mailbox.id)]))

    def test_a_failure_is_retried(self):
        self.send_mail(self.doctor, self.address, self.patient)
        self.stack.add_user(self.address, self.password + "x")  # IMAP refuses for a while
        self.Copies._cron_file_sent_copies()
        [copy] = self.Copies.search([("mail_server_id", "=", self.mailbox.id)])
        self.assertEqual(copy.attempt_count, 1)
        self.assertIn("AUTHENTICATIONFAILED", copy.last_error.upper())
        self.assertNotIn(self.password, copy.last_error)

        self.stack.add_user(self.address, self.password)
        self.Copies._cron_file_sent_copies()
        self.assertFalse(copy.exists())
        self.assertEqual(len(self.sent_folder()), 1)

    def test_providers_that_keep_sent_mail_get_no_copy(self):
        self.provider.files_sent_copy = True
        self.send_mail(self.doctor, self.address, self.patient)
        self.assertFalse(self.Copies.search([("mail_server_id", "=", self.mailbox.id)]))
