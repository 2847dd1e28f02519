"""Review of the patients' replies (issue 14): what an outsider, a patient or a colleague could still do.

Same local stack and fixtures as test_patient_replies.py: the invoice leaves through the doctor's mailbox,
the messages below land in her INBOX over SMTP, the cron reads them back.
"""

import smtplib
from email.utils import formatdate, make_msgid

from odoo.tests import tagged

from .common import DOMAIN
from .test_patient_replies import PAID, RECEIPT, RepliesCase, _HostileSession


@tagged("post_install", "-at_install")
class TestPatientRepliesReview(RepliesCase):
    def send_raw(self, raw):
        """The patient's account delivers ``raw`` (bytes, as written) to the doctor's INBOX."""
        with smtplib.SMTP_SSL("localhost", self.ports["smtps"], context=self.stack.ssl_context()) as smtp:
            smtp.login(self.patient_address, self.patient_password)
            smtp.sendmail(self.patient_address, [self.doctor_address], raw)

    def assert_still_works(self, answer):
        """The mailbox is fine, and the genuine reply behind the nasty message is on the invoice."""
        self.assertEqual(self.mailbox.mcl_state, "connected", self.mailbox.mcl_diagnosis)
        self.assertEqual(len(self.posted(answer, self.invoice)), 1, "the patient's real reply comes in")
        self.assertEqual(self.mailbox.mcl_replies_result, "Replies brought into Odoo: 1")

    def test_a_message_with_a_broken_message_id_does_not_stop_the_replies(self):
        # Anyone can write to the doctor: "openerp" in References is all the search asks for. Python's
        # email parser raises on this Message-ID (IndexError), which stopped every check of the mailbox.
        self.send_raw(
            b"From: " + self.patient_address.encode() + b"\r\nTo: " + self.doctor_address.encode() + b"\r\n"
            b"Subject: Re: facture\r\nDate: " + formatdate().encode() + b"\r\nMessage-ID: <\r\n"
            b"References: <1.2-openerp-3@ailleurs.example>\r\n\r\nBonjour\r\n"
        )
        answer = self.reply()
        self.run_cron()
        self.assert_still_works(answer)
        self.run_cron()  # and the next run does not stumble on it either
        self.assertEqual(self.mailbox.mcl_state, "connected", self.mailbox.mcl_diagnosis)
        self.assertEqual(self.mailbox.mcl_replies_result, "Replies brought into Odoo: 0")

    def test_a_message_with_huge_threading_headers_does_not_stop_the_replies(self):
        # More than 64 kB of References: the header fields were a protocol error, at every run.
        references = " ".join(f"<{n}.{n}-openerp-{n}@ailleurs.example>" for n in range(2000))
        junk = self.send_as(self.patient_address, self.patient_password, self.doctor_address, "Publicité",
                            references=references, subject="Offre")
        answer = self.reply()
        self.run_cron()
        self.assert_still_works(answer)
        self.assertFalse(self.posted(junk))
        self.assert_unseen(answer, junk)

    def test_an_attachment_in_a_reply_does_not_touch_the_invoice(self):
        # Posted through the gateway, an attachment made account try to read it as an e-invoice: on a sent
        # (posted) invoice OdooBot answered "The invoice is not a draft, it was not updated from the
        # attachment." under every patient's receipt; on a draft it would import the patient's file.
        answer = self.reply(attachment=("avis-de-virement.pdf", RECEIPT))
        before = self.invoice.message_ids
        self.run_cron()
        [posted] = self.posted(answer, self.invoice)
        self.assertEqual(posted.attachment_ids.mapped("raw"), [RECEIPT])
        self.assertEqual(self.invoice.message_ids - before, posted, "only the patient's reply is added")

        self.invoice.button_draft()  # the doctor corrects the address the patient asked about
        self.env.cr.flush()  # its tracking message ("Posted -> Draft") is written now
        lines = self.invoice.invoice_line_ids.read(["name", "price_unit", "quantity"])
        second = self.reply("Voici mon adresse", attachment=("adresse.pdf", RECEIPT))
        before = self.invoice.message_ids
        self.run_cron()
        [posted] = self.posted(second, self.invoice)
        self.assertEqual(self.invoice.message_ids - before, posted)
        self.assertEqual(self.invoice.invoice_line_ids.read(["name", "price_unit", "quantity"]), lines)
        self.assertEqual(posted.attachment_ids.mapped("raw"), [RECEIPT], "the patient's file is kept")
        self.assertNotIn("not updated from the attachment", " ".join(map(str, self.invoice.message_ids.mapped("body"))))

    def test_a_colleague_notified_in_odoo_only_cannot_be_impersonated(self):
        # The secretary follows the doctor's invoices: she was notified in Odoo, no email was sent to her.
        # The patient writes with her address as From: it must not appear on the invoice as hers.
        invoice = self.make_invoice(salesperson=self.doctor)
        invoice.message_subscribe(partner_ids=self.secretary.partner_id.ids)
        self.secretary.notification_type = "inbox"
        self.send_wizard(self.doctor, invoice).action_send_and_print()
        [sent] = invoice.message_ids.filtered(lambda m: m.email_from and self.doctor_address in m.email_from
                                              and m.message_type != "email")[:1]
        self.assertIn(self.secretary.partner_id, sent.notification_ids.res_partner_id)
        forged = make_msgid(domain=DOMAIN)
        self.send_raw(
            b"From: " + self.secretary.email.encode() + b"\r\nTo: " + self.doctor_address.encode() + b"\r\n"
            b"Subject: Re: facture\r\nDate: " + formatdate().encode() + b"\r\nMessage-ID: " + forged.encode()
            + b"\r\nIn-Reply-To: " + sent.message_id.encode() + b"\r\nReferences: " + sent.message_id.encode()
            + b"\r\n\r\nAnnulez la facture, c'est une erreur.\r\n"
        )
        answer = self.reply(PAID)
        self.run_cron()
        self.assertFalse(self.env["mail.message"].sudo().search([("message_id", "=", forged)]),
                         "nothing is posted in the secretary's name")
        self.assertEqual(len(self.posted(answer, self.invoice)), 1)

    def test_the_mailbox_of_a_practitioner_who_left_is_not_read(self):
        # The doctor left the practice (her user is archived): nothing can leave through her mailbox any
        # more, and Odoo does not keep logging in to it every five minutes to read her mail.
        self.reply()
        self.doctor.active = False
        self.run_cron()
        self.assertFalse(self.mailbox.mcl_replies_checked_on, "her mailbox is not checked")

    def test_a_server_showing_other_headers_than_the_message_posts_nothing(self):
        # The provider of a colleague's mailbox shows the header fields of a genuine reply to his invoice,
        # then hands over a message answering the doctor's invoice: it was posted on hers.
        server, mailbox = self.hostile_mailbox("gmail")
        server.RequestHandlerClass = _TwoFacedSession
        user = mailbox.owner_user_id
        user.mcl_invoice_template_id = self.template
        _invoice, received = self.send_invoice(user, self.patient, self.patient_address, self.patient_password)
        address, password = mailbox.mcl_email, self.accounts[mailbox.mcl_email]
        answer = self.send_as(self.patient_address, self.patient_password, address, PAID, answering=received)
        forged = self.send_as(self.patient_address, self.patient_password, address, "Annulez tout",
                              answering=self.received)
        raw = {m["Message-ID"]: m.as_bytes() for m in self.stack.fetch_messages(address, password)}
        server.folders = {"INBOX": {7: raw[forged["Message-ID"]]}}
        server.shown = {7: raw[answer["Message-ID"]]}
        before = self.invoice.message_ids

        self.run_cron()

        self.assertFalse(self.posted(forged) | self.posted(answer))
        self.assertEqual(self.invoice.message_ids, before, "nothing appears on the doctor's invoice")
        mailbox.invalidate_recordset()
        self.assertEqual(mailbox.mcl_replies_result,
                         "Replies brought into Odoo: 0; could not be posted, left in the mailbox: 1")


class _TwoFacedSession(_HostileSession):
    """The Gmail-like server of test_patient_replies.py, whose header fields are those of ``server.shown``."""

    def gmail(self, sock, tag, rest):
        verb, _space, arguments = rest.partition(b" ")
        command, _space, arguments = arguments.partition(b" ")
        wanted, _space, items = arguments.partition(b" ")
        if verb.upper() != b"UID" or command.upper() != b"FETCH" or b"HEADER.FIELDS" not in items:
            return super().gmail(sock, tag, rest)
        for number, uid in enumerate(sorted(self.folder), 1):
            if str(uid).encode() in wanted.split(b","):
                part = self.server.shown[uid].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                head = b"UID %d RFC822.SIZE %d BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM)]" % (
                    uid, len(self.folder[uid]))
                sock.sendall(b"* %d FETCH (%s {%d}\r\n" % (number, head, len(part)) + part + b")\r\n")
        sock.sendall(tag + b" OK done\r\n")
        return None
