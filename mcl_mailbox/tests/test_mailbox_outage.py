"""The SMTP server goes down under a queue of 200 emails, comes back: each email arrives exactly once,
retried by itself."""

from datetime import timedelta

from freezegun import freeze_time

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
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "kept in the queue, not lost")
        self.assertEqual(set(mails.mapped("mcl_retry_count")), {1}, "to be tried again later")
        self.assertTrue(all(mails.mapped("failure_reason")), "each shows why it waits")
        self.assertEqual(mailbox.mcl_state, "attention")
        first_try = max(mails.mapped("scheduled_date"))
        with freeze_time(first_try + timedelta(seconds=1)):
            self.env["mail.mail"].sudo().process_email_queue(batch_size=BATCH * 2)  # still down
        self.assertEqual(set(mails.mapped("mcl_retry_count")), {2})
        self.assertGreater(min(mails.mapped("scheduled_date")) - first_try, timedelta(seconds=50),
                           "further apart each time")

        self.stack.start()
        logins = self.stack.smtp_stats()["logins"]
        with freeze_time(max(mails.mapped("scheduled_date")) + timedelta(seconds=1)):
            self.env["mail.mail"].sudo().process_email_queue(batch_size=BATCH * 2)
            self.env["mail.mail"].sudo().process_email_queue(batch_size=BATCH * 2)  # a second run finds nothing

        subjects = [message["Subject"] for message in self.stack.fetch_messages(patient, patient_password)]
        self.assertEqual(len(subjects), BATCH)
        self.assertEqual(len(set(subjects)), BATCH, "no email arrives twice")
        self.assertLessEqual(self.stack.smtp_stats()["logins"] - logins, 2, "one session carries the batch")
        self.assertEqual(mailbox.mcl_state, "connected", "fine again, nobody acting")
