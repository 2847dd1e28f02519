"""Invoices leave from the sender's own mailbox: read back over IMAP from the patient's mailbox."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MailboxCase

SIGNATURE = "Dr Claire Martin, médecin généraliste"


class InvoiceCase(MailboxCase):
    """A patient with a mailbox on the stack, and the doctor's own invoice template."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = cls.env["mail.template"].create({
            "name": "Facture patient (Dr Martin)",
            "model_id": cls.env["ir.model"]._get_id("account.move"),
            "subject": "Votre facture {{ object.name }} du cabinet",
            "email_from": "{{ (object.invoice_user_id.email_formatted or user.email_formatted) }}",
            "partner_to": "{{ object.partner_id.id }}",
            "body_html": '<p>Bonjour, veuillez trouver votre facture <t t-out="object.name"/>.</p>',
        })

    def setUp(self):
        super().setUp()
        self.patient_address, self.patient_password = self.new_account()
        self.patient = self.env["res.partner"].create({"name": "Patient Durand", "email": self.patient_address})

    def make_invoice(self, salesperson, move_type="out_invoice"):
        invoice = self.env["account.move"].create({
            "move_type": move_type,
            "partner_id": self.patient.id,
            "invoice_user_id": salesperson.id,
            "invoice_line_ids": [Command.create({
                "name": "Consultation", "quantity": 1, "price_unit": 30.0, "tax_ids": [Command.clear()],
            })],
        })
        invoice.action_post()
        return invoice

    def send_wizard(self, user, invoice):
        return self.env["account.move.send.wizard"].with_user(user).with_context(
            active_model="account.move", active_ids=invoice.ids,
        ).create({})

    def doctor_mailbox(self):
        self.doctor_address, self.doctor_password = self.new_account()
        self.doctor.mcl_invoice_template_id = self.template
        return self.connect_mailbox(self.doctor, self.doctor_address, self.doctor_password,
                                    signature=f"<p>{SIGNATURE}</p>")

    def inbox(self):
        return self.stack.fetch_messages(self.patient_address, self.patient_password)

    def invoice_mails(self, invoices):
        return self.env["mail.mail"].sudo().search([("model", "=", "account.move"), ("res_id", "in", invoices.ids)])


@tagged("post_install", "-at_install")
class TestInvoiceSending(InvoiceCase):
    def test_the_default_template_is_a_preference_users_edit_themselves(self):
        as_doctor = self.doctor.with_user(self.doctor)
        as_doctor.write({"mcl_invoice_template_id": self.template.id})
        self.assertEqual(as_doctor.read(["mcl_invoice_template_id"])[0]["mcl_invoice_template_id"][0], self.template.id)
        with self.assertRaises(AccessError):
            self.physio.with_user(self.doctor).write({"mcl_invoice_template_id": self.template.id})

    def test_one_invoice_leaves_from_the_sender_mailbox_with_template_signature_and_invoice(self):
        mailbox = self.doctor_mailbox()
        invoice = self.make_invoice(salesperson=self.physio)  # the stock template would send as the salesperson
        logins_before = self.stack.smtp_stats()["logins"]

        wizard = self.send_wizard(self.doctor, invoice)
        self.assertEqual(wizard.mail_template_id, self.template, "the doctor's template is preselected")
        self.assertEqual(wizard.mcl_mail_server_id, mailbox)
        self.assertEqual(wizard.mcl_mail_server_id.display_name, f"Cabinet <{self.doctor_address}>")
        self.assertFalse(wizard.mcl_sent_from_hint)
        wizard.action_send_and_print()

        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before + 1, "sent through the doctor's mailbox")
        [received] = self.inbox()
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet")
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address)
        self.assertEqual(received["From"].addresses[0].display_name, "Dr Claire Martin")
        body = received.get_body(("html",)).get_content()
        self.assertIn("veuillez trouver votre facture", body)
        self.assertIn(SIGNATURE, body)
        # With test_enable, Odoo renders reports as HTML, not PDF: the attachment is the invoice's
        # own report file, byte for byte, under the invoice's PDF name.
        [attachment] = list(received.iter_attachments())
        self.assertEqual(attachment.get_filename(), invoice._get_invoice_report_filename())
        self.assertEqual(attachment.get_content(), invoice.invoice_pdf_report_id.raw)
        self.assertIn(invoice.name.encode(), attachment.get_content())
        self.assertTrue(invoice.is_move_sent)
        self.assertEqual(mailbox.mcl_state, "connected")

    def test_a_credit_note_keeps_odoo_template(self):
        self.doctor.mcl_invoice_template_id = self.template
        refund = self.make_invoice(self.doctor, move_type="out_refund")
        wizard = self.send_wizard(self.doctor, refund)
        self.assertEqual(wizard.mail_template_id, self.env.ref("account.email_template_edi_credit_note"))

    def test_a_user_without_mailbox_keeps_odoo_behaviour(self):
        self.doctor_mailbox()
        shared_login, shared_password = self.new_account()
        self.env["ir.mail_server"].create({
            "name": "Practice server", "smtp_host": "localhost", "smtp_port": self.ports["smtps"],
            "smtp_encryption": "ssl", "smtp_user": shared_login, "smtp_pass": shared_password,
        })
        invoice = self.make_invoice(salesperson=self.doctor)
        odoo_template = self.env.ref("account.email_template_edi_invoice")

        wizard = self.send_wizard(self.secretary, invoice)
        self.assertEqual(wizard.mail_template_id, odoo_template)
        self.assertFalse(wizard.mcl_mail_server_id)
        self.assertIn("Connect your own mailbox", wizard.mcl_sent_from_hint)
        wizard.action_send_and_print()

        [received] = self.inbox()
        expected_from = odoo_template._render_field("email_from", invoice.ids)[invoice.id]
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor.email, "Odoo's salesperson sender")
        self.assertIn(self.doctor.email, expected_from)
        self.assertEqual(received["Subject"], odoo_template._render_field("subject", invoice.ids)[invoice.id])
        self.assertNotIn(SIGNATURE, received.get_body(("html",)).get_content())

    def test_a_batch_applies_the_author_rules_and_logs_in_once(self):
        self.doctor_mailbox()
        invoices = self.env["account.move"].concat(*(self.make_invoice(salesperson=self.physio) for _i in range(20)))
        logins_before = self.stack.smtp_stats()["logins"]

        batch = self.env["account.move.send.batch.wizard"].with_user(self.doctor).with_context(
            active_model="account.move", active_ids=invoices.ids,
        ).create({})
        batch.action_send_and_print()
        while self.env["account.move"].search_count([("id", "in", invoices.ids), ("sending_data", "!=", False)]):
            self.env["account.move"]._cron_account_move_send()  # as the cron does, as the superuser

        mails = self.invoice_mails(invoices)
        self.assertEqual(len(mails), 20)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "queued for one SMTP session")
        self.assertTrue(self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.env.ref("mail.ir_cron_mail_scheduler_action").id)]))
        self.env["mail.mail"].process_email_queue()

        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before + 1, "one login for the whole batch")
        received = self.inbox()
        self.assertEqual(sorted(message["Subject"] for message in received),
                         sorted(f"Votre facture {name} du cabinet" for name in invoices.mapped("name")))
        self.assertEqual({message["From"].addresses[0].addr_spec for message in received}, {self.doctor_address})
        self.assertTrue(all(SIGNATURE in message.get_body(("html",)).get_content() for message in received))

    def failure_todos(self, mailbox):
        """The owner's to-dos about emails waiting on ``mailbox``, once Odoo told them (after the sending)."""
        self.env["ir.mail_server"]._cron_mcl_report_failures()
        return self.env["mail.activity"].search([
            ("mcl_mail_server_id", "=", mailbox.id),
            ("activity_type_id", "=", self.env.ref("mcl_mailbox.mail_activity_type_mailbox_failure").id),
        ])

    def test_a_provider_asking_to_try_later_gets_the_emails_again_by_itself(self):
        mailbox = self.doctor_mailbox()
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        self.stack.set_smtp_reply(self.doctor_address, "454 4.7.0 Temporary authentication failure")
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)
        for invoice in invoices:
            self.send_wizard(self.doctor, invoice).action_send_and_print()

        mails = self.invoice_mails(invoices)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "kept in the queue, for a later try")
        self.assertEqual(set(mails.mapped("mcl_retry_count")), {1})
        self.assertEqual(set(invoices.mapped("mcl_sending_status")), {"retrying"}, "each invoice says so")
        self.assertTrue(all(invoice.mcl_next_try > fields.Datetime.now() for invoice in invoices))
        self.assertEqual(set(mails.mail_message_id.notification_ids.mapped("notification_status")), {"ready"},
                         "the chatter shows them waiting, not failed")
        todo = self.failure_todos(mailbox)
        self.assertEqual(len(todo), 1, "the owner is told once for the mailbox, not once per invoice")
        self.assertEqual(todo.user_id, self.doctor)
        self.assertIn("2 email(s) wait", todo.note)
        self.assertIn("tries again by itself", todo.note)
        self.assertFalse(self.inbox())

        self.stack.set_smtp_reply(self.doctor_address, None)  # the provider is back
        self.env["mail.mail"].process_email_queue()
        self.assertFalse(self.inbox(), "not before their time")
        with freeze_time(max(mails.mapped("scheduled_date")) + timedelta(seconds=1)):
            self.env["mail.mail"].process_email_queue()
            self.env["mail.mail"].process_email_queue()  # a second run finds nothing more
        self.assertEqual(sorted(message["Subject"] for message in self.inbox()),
                         sorted(f"Votre facture {name} du cabinet" for name in invoices.mapped("name")),
                         "each arrives exactly once, nobody acting")
        self.assertEqual(mailbox.mcl_state, "connected", "the mailbox is fine again by itself")
        self.assertFalse(self.failure_todos(mailbox), "and the to-do is done")
        self.assertEqual(set(invoices.mapped("mcl_sending_status")), {False})

    def test_a_refused_password_keeps_the_emails_until_the_owner_fixes_the_mailbox(self):
        mailbox = self.doctor_mailbox()
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        self.stack.set_smtp_reply(self.doctor_address, "535 5.7.8 Username and Password not accepted")
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)
        for invoice in invoices:
            self.send_wizard(self.doctor, invoice).action_send_and_print()

        mails = self.invoice_mails(invoices)
        self.assertEqual(set(mails.mapped("state")), {"exception"})
        self.assertEqual(set(mails.mapped("failure_type")), {"mail_smtp"})
        self.assertTrue(all("535" in mail.failure_reason for mail in mails), mails.mapped("failure_reason"))
        self.assertEqual(mailbox.mcl_state, "attention")
        self.assertEqual(set(invoices.mapped("mcl_sending_status")), {"held"})
        todo = self.failure_todos(mailbox)
        self.assertEqual(len(todo), 1, "one to-do for the mailbox")
        self.assertIn(todo.res_id, invoices.ids, "on a document whose email waits")
        self.assertIn("Test connection and save", todo.note)
        self.assertFalse(self.inbox())
        with freeze_time(fields.Datetime.now() + timedelta(days=2)):
            self.env["mail.mail"].process_email_queue()
        self.assertFalse(self.inbox(), "a refused password is not tried again and again")

        self.stack.set_smtp_reply(self.doctor_address, None)  # the owner made a new app password
        for _attempt in range(2):  # saving twice must not send twice
            setup = self.env["mcl.mailbox.setup"].with_user(self.doctor)._action_open(mailbox)
            self.env["mcl.mailbox.setup"].with_user(self.doctor).browse(setup["res_id"]).action_test_and_save()
            self.env["mail.mail"].process_email_queue()

        self.assertEqual(mailbox.mcl_state, "connected")
        self.assertFalse(self.failure_todos(mailbox))
        self.assertEqual(sorted(message["Subject"] for message in self.inbox()),
                         sorted(f"Votre facture {name} du cabinet" for name in invoices.mapped("name")))
