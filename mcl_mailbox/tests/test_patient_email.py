"""What a patient receives from a practitioner's mailbox, read back over IMAP as their mail client shows it.

One signature, the sender's, right after the message; no salesperson's signature, no software footer
unless the practice asks for Odoo's layout; a Reply-To that reaches the practitioner unless Odoo
receives its catchall; Odoo's own Message-ID, so that replies can find their document.
"""

import html

from odoo import Command
from odoo.tests import tagged
from odoo.tools.misc import format_amount, format_date

from .test_invoice_sending import SIGNATURE, InvoiceCase

PHYSIO_SIGNATURE = "Marc Dubois, Masseur-kinésithérapeute"
DOCTOR_ODOO_SIGNATURE = "Claire Martin, signature Odoo"
CATCHALL = "catchall@cabinet-tilleuls.test"


def html_of(message):
    """The HTML part, its character references resolved (``&nbsp;`` in amounts) as a mail client shows it."""
    return html.unescape(message.get_body(("html",)).get_content())


def text_of(message):
    return message.get_body(("plain",)).get_content()


class PatientEmailCase(InvoiceCase):
    """A practice with an alias domain, and practitioners who sign in Odoo."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.physio.signature = f"<p>{PHYSIO_SIGNATURE}</p>"
        cls.doctor.signature = f"<p>{DOCTOR_ODOO_SIGNATURE}</p>"
        alias_domain = cls.env["mail.alias.domain"].create({"name": "cabinet-tilleuls.test"})
        cls.env.company.alias_domain_id = alias_domain
        cls.env.company.mcl_email_layout = "personal"
        cls.stock_template = cls.env.ref("account.email_template_edi_invoice")

    def connect_doctor(self, signature=f"<p>{SIGNATURE}</p>", **values):
        """The doctor's mailbox; she keeps Odoo's stock invoice template (the hardest case)."""
        self.doctor_address, self.doctor_password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, self.doctor_address, self.doctor_password,
                                       signature=signature, **values)
        self.doctor.mcl_invoice_template_id = False
        return mailbox

    def send(self, user, invoice):
        """``user`` sends ``invoice`` with the preselected template; the one message the patient gets."""
        self.send_wizard(user, invoice).action_send_and_print()
        [received] = self.inbox()
        return received

    def assert_signed_once_after(self, message, body_text, signature=SIGNATURE):
        """The signature is in both parts once, after ``body_text``, and no other practitioner's is."""
        for part in (html_of(message), text_of(message)):
            self.assertEqual(part.count(signature), 1, part)
            self.assertLess(part.index(body_text), part.index(signature), "signed after the message")
            for other in {PHYSIO_SIGNATURE, DOCTOR_ODOO_SIGNATURE} - {signature}:
                self.assertNotIn(other, part)


@tagged("post_install", "-at_install")
class TestPatientEmail(PatientEmailCase):
    def test_the_stock_template_is_signed_once_by_the_sender_not_the_salesperson(self):
        self.connect_doctor()
        invoice = self.make_invoice(salesperson=self.physio)

        received = self.send(self.doctor, invoice)

        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address)
        self.assert_signed_once_after(received, "Do not hesitate to contact us")
        html = html_of(received)
        self.assertNotIn("Powered by", html)
        self.assertNotIn("access_token", html, "no link: the patient has no portal account")
        self.assertIn(self.env.company.name, html, "the practice's name")
        self.assertNotIn("Powered by", text_of(received))
        [attachment] = list(received.iter_attachments())
        self.assertEqual(attachment.get_filename(), invoice._get_invoice_report_filename())
        # What the practice's colleagues read in the chatter matches: no salesperson signature.
        message = invoice.message_ids.filtered(lambda m: m.message_type == "comment")[:1]
        self.assertNotIn(PHYSIO_SIGNATURE, str(message.body))
        self.assertEqual(received["Message-ID"], message.message_id, "Odoo's threading header")

    def test_the_reply_to_is_the_practitioner_when_nothing_reads_the_catchall(self):
        self.connect_doctor()
        received = self.send(self.doctor, self.make_invoice(salesperson=self.physio))
        self.assertEqual([a.addr_spec for a in received["Reply-To"].addresses], [self.doctor_address])
        self.assertEqual(received["Reply-To"].addresses[0].display_name, "Dr Claire Martin")

    def test_the_reply_to_stays_odoo_when_an_incoming_server_is_confirmed(self):
        self.connect_doctor()
        server = self.env["fetchmail.server"].create({
            "name": "Catchall du cabinet", "server_type": "imap", "server": "localhost", "port": 993,
            "is_ssl": True, "user": CATCHALL,
        })
        server.state = "done"
        received = self.send(self.doctor, self.make_invoice(salesperson=self.doctor))
        self.assertIn(CATCHALL, [a.addr_spec for a in received["Reply-To"].addresses])
        server.active = False  # an archived server reads nothing: the practitioner gets the replies again
        invoice = self.make_invoice(salesperson=self.doctor)
        self.send_wizard(self.doctor, invoice).action_send_and_print()
        latest = [m for m in self.inbox() if invoice.name in m["Subject"]]
        self.assertEqual([a.addr_spec for a in latest[0]["Reply-To"].addresses], [self.doctor_address])

    def test_the_reply_to_stays_odoo_when_settings_say_the_catchall_reaches_odoo(self):
        self.connect_doctor()
        settings = self.env["res.config.settings"].create({"mcl_catchall_routed": True})
        settings.execute()
        received = self.send(self.doctor, self.make_invoice(salesperson=self.doctor))
        self.assertIn(CATCHALL, [a.addr_spec for a in received["Reply-To"].addresses])

    def test_a_mailbox_without_signature_signs_with_its_owner_odoo_signature(self):
        self.connect_doctor(signature="")
        received = self.send(self.doctor, self.make_invoice(salesperson=self.physio))
        self.assert_signed_once_after(received, "Do not hesitate to contact us", signature=DOCTOR_ODOO_SIGNATURE)

    def test_the_sender_being_the_salesperson_is_signed_once_with_the_mailbox_signature(self):
        self.connect_doctor()
        received = self.send(self.doctor, self.make_invoice(salesperson=self.doctor))
        self.assert_signed_once_after(received, "Do not hesitate to contact us")

    def test_a_delegate_sends_with_the_owner_mailbox_and_signature(self):
        self.connect_doctor(delegate_user_ids=[Command.set(self.secretary.ids)])
        invoice = self.make_invoice(salesperson=self.doctor)
        received = self.send(self.secretary, invoice)
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address)
        self.assertEqual([a.addr_spec for a in received["Reply-To"].addresses], [self.doctor_address])
        self.assert_signed_once_after(received, "Do not hesitate to contact us")
        message = invoice.message_ids.filtered(lambda m: m.message_type == "comment")[:1]
        self.assertEqual(message.author_id, self.secretary.partner_id, "the secretary wrote it")

    def test_a_credit_note_is_signed_once_by_the_sender(self):
        self.connect_doctor()
        refund = self.make_invoice(salesperson=self.physio, move_type="out_refund")
        received = self.send(self.doctor, refund)
        self.assert_signed_once_after(received, "Do not hesitate to contact us")

    def test_odoo_layout_keeps_its_button_and_footer_below_the_one_signature(self):
        self.connect_doctor()
        self.env.company.mcl_email_layout = "odoo"
        received = self.send(self.doctor, self.make_invoice(salesperson=self.physio))
        html = html_of(received)
        self.assert_signed_once_after(received, "Do not hesitate to contact us")
        self.assertLess(html.index(SIGNATURE), html.index("Powered by"), "the footer comes after the signature")

    def test_the_online_link_is_only_for_patients_who_use_the_portal(self):
        self.connect_doctor()
        self.env["res.users"].create({
            "name": self.patient.name, "login": self.patient_address, "partner_id": self.patient.id,
            "groups_id": [Command.set([self.env.ref("base.group_portal").id])],
        })
        invoice = self.make_invoice(salesperson=self.doctor)
        html = html_of(self.send(self.doctor, invoice))
        self.assertEqual(html.count("View online"), 1)
        self.assertIn(f"res_id={invoice.id}", html)
        self.assertIn("access_token", html)
        self.assertLess(html.index(SIGNATURE), html.index("View online"))

    def test_a_batch_from_the_list_signs_each_email_once(self):
        self.connect_doctor()
        invoices = self.make_invoice(self.physio) + self.make_invoice(self.physio) + self.make_invoice(self.doctor)
        batch = self.env["account.move.send.batch.wizard"].with_user(self.doctor).with_context(
            active_model="account.move", active_ids=invoices.ids,
        ).create({})
        batch.action_send_and_print()
        while self.env["account.move"].search_count([("id", "in", invoices.ids), ("sending_data", "!=", False)]):
            self.env["account.move"]._cron_account_move_send()
        self.env["mail.mail"].process_email_queue()

        received = self.inbox()
        self.assertEqual(len(received), 3)
        for message in received:
            self.assertEqual([a.addr_spec for a in message["Reply-To"].addresses], [self.doctor_address])
            self.assert_signed_once_after(message, "Do not hesitate to contact us")


@tagged("post_install", "-at_install")
class TestPracticeTemplate(PatientEmailCase):
    def load_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["mcl_mailbox"], ["fr_FR"], overwrite=True)

    def test_connecting_a_mailbox_chooses_the_practice_template_unless_one_is_chosen(self):
        practice = self.env.ref("mcl_mailbox.mail_template_invoice_practice")
        self.physio.mcl_invoice_template_id = False
        address, password = self.new_account()
        self.connect_mailbox(self.physio, address, password)
        self.assertEqual(self.physio.mcl_invoice_template_id, practice)

        self.doctor.mcl_invoice_template_id = self.template
        address, password = self.new_account()
        self.connect_mailbox(self.doctor, address, password)
        self.assertEqual(self.doctor.mcl_invoice_template_id, self.template, "a chosen template stays")

    def test_the_practice_template_reads_in_french_without_medical_detail(self):
        self.load_french()
        self.patient.lang = "fr_FR"
        address, password = self.new_account()
        self.doctor.mcl_invoice_template_id = False
        self.connect_mailbox(self.doctor, address, password, signature=f"<p>{SIGNATURE}</p>")
        invoice = self.make_invoice(salesperson=self.doctor)
        invoice.invoice_line_ids.name = "Consultation : lombalgie aiguë"

        received = self.send(self.doctor, invoice)

        self.assertEqual(received["Subject"], f"Facture {invoice.name} de {self.env.company.name}")
        french = invoice.with_context(lang="fr_FR").env
        for part in (html_of(received), text_of(received)):
            self.assertIn("Veuillez trouver ci-joint la facture", part)
            self.assertIn(invoice.name, part)
            self.assertIn(format_amount(french, invoice.amount_total, invoice.currency_id), part)
            self.assertIn(format_date(french, invoice.invoice_date_due), part)
            self.assertNotIn("lombalgie", part, "no medical detail in an email")
            self.assertEqual(part.count(SIGNATURE), 1)
            self.assertLess(part.index("Bien cordialement"), part.index(SIGNATURE))
