"""The SMTP server goes down under a queue of 200 emails, comes back: each email arrives exactly once."""

from odoo.tests import tagged

from .common import MailboxCase

BATCH = 200


@tagged("post_install", "-at_install")
class TestMailboxOutage(MailboxCase):
    def queue(self, author, address, patient, count):
        Mail = self.env["mail.mail"].with_user(author).sudo()
        return Mail.create([{
            "email_from": address,
            "email_to": patient,
            "subject": f"Facture {number:03d}",
            "body_html": "<p>Bonjour, voici votre facture.</p>",
            "author_id": author.partner_id.id,
        } for number in range(BATCH)])

    def test_emails_wait_for_the_server_then_leave_exactly_once(self):
        address, password = self.new_account()
        patient, patient_password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        mails = self.queue(self.doctor, address, patient, BATCH)

        self.stack.stop()  # the provider's servers are down
        self.addCleanup(self.stack.start)
        mails.send()
        self.assertEqual(set(mails.mapped("state")), {"exception"}, "kept, not lost")
        self.assertTrue(all(mails.mapped("failure_reason")), "each shows why it waits")
        self.assertEqual(mailbox.mcl_state, "attention")

        self.stack.start()
        logins = self.stack.smtp_stats()["logins"]
        form = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        form.action_test_and_save()  # the owner checks the mailbox: the waiting emails go back in the queue
        self.assertEqual(set(mails.mapped("state")), {"outgoing"})
        self.env["mail.mail"].sudo().process_email_queue(batch_size=BATCH * 2)
        self.env["mail.mail"].sudo().process_email_queue(batch_size=BATCH * 2)  # a second cron run finds nothing

        subjects = [message["Subject"] for message in self.stack.fetch_messages(patient, patient_password)]
        self.assertEqual(len(subjects), BATCH)
        self.assertEqual(len(set(subjects)), BATCH, "no email arrives twice")
        self.assertLessEqual(self.stack.smtp_stats()["logins"] - logins, 2, "one session carries the batch")
        self.assertEqual(mailbox.mcl_state, "connected")
