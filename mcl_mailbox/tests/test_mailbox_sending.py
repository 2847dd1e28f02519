"""A message sent through a personal mailbox reaches the recipient, read back over IMAP."""

from odoo.tests import tagged

from .common import MailboxCase


@tagged("post_install", "-at_install")
class TestMailboxSending(MailboxCase):
    def test_mail_leaves_from_the_owner_mailbox_with_its_signature(self):
        address, password = self.new_account()
        patient, patient_password = self.new_account()
        self.connect_mailbox(self.doctor, address, password, signature="<p>Dr Claire Martin, médecin</p>")
        logins_before = self.stack.smtp_stats()["logins"]

        mail = self.send_mail(self.doctor, address, patient, "Votre facture FAC/2026/0001")

        self.assertEqual(mail.state, "sent", mail.failure_reason)
        [received] = self.stack.fetch_messages(patient, patient_password)
        self.assertEqual(received["Subject"], "Votre facture FAC/2026/0001")
        self.assertIn(address, received["From"])
        body = received.get_body(("html",)).get_content()
        self.assertIn("voici votre facture", body)
        self.assertIn("Dr Claire Martin, médecin", body)
        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before + 1, "logged in with the stored password")

    def test_a_revoked_password_puts_the_mailbox_in_attention_and_keeps_the_mail(self):
        address, password = self.new_account()
        patient, _patient_password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        self.stack.add_user(address, password + "changed")  # the provider revoked the app password

        mail = self.send_mail(self.doctor, address, patient)

        self.assertEqual(mail.state, "exception")
        self.assertTrue(mail.failure_reason)
        self.assertNotIn(password, mail.failure_reason)
        self.assertTrue(mail.exists(), "the email is kept, to be sent again")
        self.assertEqual(mailbox.mcl_state, "attention")
        self.assertIn("Outgoing mail (SMTP)", mailbox.mcl_diagnosis)
        self.assertIn("refused the login", mailbox.mcl_diagnosis)
