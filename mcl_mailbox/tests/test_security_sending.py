"""Who sends through a personal mailbox: its owner and the colleagues the owner names, nobody else.

Issue 11 (review findings F2, F3, F7, F10). The doctor's mailbox address is her own e-mail, as in a
real practice; a shared practice server carries everyone else's mail. A tripwire on the doctor's
account makes any login to her mailbox fail, and the failure is recorded on the mailbox: a mailbox
that must not be used shows it.
"""

import uuid

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import DOMAIN
from .security_common import RpcMixin
from .test_invoice_sending import SIGNATURE, InvoiceCase
from .test_security_isolation import TRIPWIRE

# A refusal that waits for the owner (a passing "454 try later" is retried by itself instead).
FAILURE_REPLY = "535 5.7.8 Username and Password not accepted (revoked)"


@tagged("post_install", "-at_install")
class TestSendingSecurity(RpcMixin, HttpCase, InvoiceCase):
    def setUp(self):
        super().setUp()
        self.mailbox = self.doctor_mailbox()
        self.doctor.email = self.doctor_address  # the mailbox is the doctor's own address
        shared_login, shared_password = self.new_account()
        self.shared = self.env["ir.mail_server"].create({
            "name": "Practice server", "sequence": 1, "smtp_host": "localhost", "smtp_port": self.ports["smtps"],
            "smtp_encryption": "ssl", "smtp_authentication": "login", "smtp_user": shared_login,
            "smtp_pass": shared_password,
        })
        self.odoo_template = self.env.ref("account.email_template_edi_invoice")

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def tripwire(self):
        self.stack.set_smtp_reply(self.doctor_address, TRIPWIRE)
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)

    def assert_doctor_mailbox_unused(self):
        self.mailbox.invalidate_recordset()
        self.assertFalse(self.mailbox.mcl_last_error, "the doctor's mailbox was used")

    def send_queue(self):
        self.env.invalidate_all()
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).send()

    def post_over_rpc(self, user, record, **values):
        """message_post on ``record`` over XML-RPC as ``user``, to the patient; the queue then sends it."""
        message_id, error = self.xmlrpc(user, record._name, "message_post", [record.id], body="<p>Bonjour</p>",
                                        subject=f"Message {uuid.uuid4().hex[:8]}", partner_ids=[self.patient.id],
                                        message_type="comment", subtype_xmlid="mail.mt_comment", **values)
        self.assertFalse(error)
        self.send_queue()
        return message_id

    def run_batch(self, invoices):
        """The list's batch, as the cron runs it (as the superuser), then the mail queue."""
        while self.env["account.move"].search_count([("id", "in", invoices.ids), ("sending_data", "!=", False)]):
            self.env["account.move"]._cron_account_move_send()
        self.env["mail.mail"].process_email_queue()

    def batch_send(self, user, invoices):
        self.env["account.move.send.batch.wizard"].with_user(user).with_context(
            active_model="account.move", active_ids=invoices.ids,
        ).create({}).action_send_and_print()
        self.run_batch(invoices)

    def name_delegates(self, users):
        """The doctor names ``users`` in her mailbox's set-up form and saves it."""
        Setup = self.env["mcl.mailbox.setup"].with_user(self.doctor)
        form = Setup.browse(Setup._action_open(self.mailbox)["res_id"])
        form.delegate_user_ids = users
        action = form.action_test_and_save()
        self.assertEqual(action.get("tag"), "display_notification", form.diagnosis)
        self.assertEqual(self.mailbox.mcl_delegate_user_ids, users)

    def assert_from_the_doctor(self, received):
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address)
        self.assertEqual(received["From"].addresses[0].display_name, "Dr Claire Martin")
        self.assertIn(SIGNATURE, received.get_body(("html",)).get_content())

    def snapshot(self):
        self.mailbox.invalidate_recordset()
        return self.mailbox.sudo().read(["name", "smtp_host", "smtp_user", "smtp_port", "mcl_password_token",
                                         "mcl_last_error", "owner_user_id", "mcl_delegate_user_ids"])

    # ------------------------------------------------------------------
    # F2: nobody else's mail leaves through the doctor's mailbox
    # ------------------------------------------------------------------

    def test_a_colleague_posting_as_the_doctor_does_not_use_her_mailbox(self):
        """F2a: author_id and email_from forged over RPC, with and without the mailbox's id."""
        self.tripwire()
        invoice = self.make_invoice(self.doctor)
        forged = {"author_id": self.doctor.partner_id.id, "email_from": self.doctor_address}
        for values in (forged, dict(forged, mail_server_id=self.mailbox.id)):
            self.post_over_rpc(self.physio, invoice, **values)
        self.assert_doctor_mailbox_unused()
        self.assertEqual(len(self.inbox()), 2, "both reached the patient through the practice server")

    def test_the_secretary_sending_the_doctors_invoice_does_not_use_her_mailbox(self):
        """F2b: Odoo's template sends as the salesperson, and guesses the author from that address."""
        self.tripwire()
        invoice = self.make_invoice(self.doctor)
        wizard = self.send_wizard(self.secretary, invoice)
        self.assertEqual(wizard.mail_template_id, self.odoo_template)
        self.assertFalse(wizard.mcl_mail_server_id)
        wizard.action_send_and_print()
        self.post_over_rpc(self.secretary, invoice, email_from=self.doctor.email)
        self.assert_doctor_mailbox_unused()
        received = self.inbox()
        self.assertEqual(len(received), 2, "both reached the patient through the practice server")
        self.assertFalse(any(SIGNATURE in message.get_body(("html",)).get_content() for message in received))

    def test_forged_sending_data_uses_neither_the_doctors_mailbox_nor_her_template(self):
        """F2c: any invoicing user writes sending_data; the batch trusts who really started it."""
        self.tripwire()
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.doctor)
        forgeries = [
            {"author_user_id": self.doctor.id, "author_partner_id": self.doctor.partner_id.id},
            {"author_user_id": self.secretary.id, "author_partner_id": self.doctor.partner_id.id},
        ]
        for invoice, forged in zip(invoices, forgeries, strict=True):
            _result, error = self.xmlrpc(self.secretary, "account.move", "write", [invoice.id],
                                         {"sending_data": forged})
            self.assertFalse(error)
        self.env.invalidate_all()
        self.run_batch(invoices)
        self.assert_doctor_mailbox_unused()
        received = self.inbox()
        self.assertEqual(len(received), 2)
        doctor_subjects = {f"Votre facture {name} du cabinet" for name in invoices.mapped("name")}
        self.assertFalse(doctor_subjects & {message["Subject"] for message in received}, "not her template")

    def test_an_inbound_email_spoofing_the_doctor_is_not_relayed_through_her_mailbox(self):
        """F2d: an outsider's e-mail "From: the doctor" notifies the thread's followers."""
        self.tripwire()
        thread = self.env["res.partner"].create({"name": "Dossier Durand"})
        thread.message_subscribe(partner_ids=self.patient.ids)
        raw = (
            f"From: Dr Claire Martin <{self.doctor_address}>\r\n"
            f"To: cabinet@{DOMAIN}\r\n"
            "Subject: Rendez-vous\r\n"
            f"Message-Id: <{uuid.uuid4().hex}@outside.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Bonjour, je décale le rendez-vous.\r\n"
        )
        self.env["mail.thread"].message_process("res.partner", raw, thread_id=thread.id)
        inbound = thread.message_ids.filtered(lambda message: message.message_type == "email")
        self.assertEqual(inbound.author_id, self.doctor.partner_id, "Odoo takes the doctor for its author")
        self.send_queue()
        self.assert_doctor_mailbox_unused()
        [received] = self.inbox()
        self.assertEqual(received["Subject"], "Rendez-vous")

    # ------------------------------------------------------------------
    # F3: no personal mailbox is found by address
    # ------------------------------------------------------------------

    def test_no_personal_mailbox_is_found_by_address(self):
        self.tripwire()
        Servers = self.env["ir.mail_server"].sudo()
        self.assertFalse(Servers._mcl_mailbox_to_connect(False, None, self.doctor_address))
        self.assertEqual(Servers._find_mail_server(self.doctor_address)[0], self.shared)
        connection = Servers.connect(smtp_from=self.doctor_address)
        try:
            self.assertFalse(getattr(connection, "mcl_mailbox_id", None))
        finally:
            connection.quit()
        mail = self.env["mail.mail"].sudo().create({
            "email_from": self.doctor_address, "email_to": self.patient_address,
            "subject": "Sans serveur", "body_html": "<p>Bonjour</p>",
        })
        mail.send()
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        self.assert_doctor_mailbox_unused()

    # ------------------------------------------------------------------
    # F7: the template preference, rendered as the sender
    # ------------------------------------------------------------------

    def test_the_template_preference_accepts_only_an_invoice_template_its_user_reads(self):
        as_doctor = self.doctor.with_user(self.doctor)
        signup = self.env["mail.template"].create({
            "name": "Not an invoice", "model_id": self.env["ir.model"]._get_id("res.users"),
            "subject": "Bienvenue", "body_html": "<p><t t-out='object.login'/></p>",
        })
        hidden = self.template.copy({"name": "Hidden invoice template"})
        self.env["ir.rule"].create({
            "name": "A template nobody reads", "model_id": self.env["ir.model"]._get_id("mail.template"),
            "domain_force": f"[('id', '!=', {hidden.id})]",
        })
        for template in (signup, hidden):
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                as_doctor.write({"mcl_invoice_template_id": template.id})
        # one set before the check (or in the database) is ignored
        self.env.cr.execute("UPDATE res_users SET mcl_invoice_template_id = %s WHERE id = %s",
                            [signup.id, self.doctor.id])
        self.env.invalidate_all()
        wizard = self.send_wizard(self.doctor, self.make_invoice(self.doctor))
        self.assertEqual(wizard.mail_template_id, self.odoo_template)

    def test_a_batch_renders_the_template_as_its_sender(self):
        self.template.body_html = '<p>Bonjour, de la part de <t t-out="user.name"/>.</p>'
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.physio)
        self.batch_send(self.doctor, invoices)
        received = self.inbox()
        self.assertEqual(len(received), 2)
        for message in received:
            self.assertIn("de la part de Dr Claire Martin.", message.get_body(("html",)).get_content())
            self.assert_from_the_doctor(message)

    # ------------------------------------------------------------------
    # F10: colleagues read no diagnosis
    # ------------------------------------------------------------------

    def test_a_colleague_reads_no_diagnosis_in_the_failure_to_do(self):
        self.stack.set_smtp_reply(self.doctor_address, FAILURE_REPLY)
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)
        invoice = self.make_invoice(self.doctor)
        self.send_wizard(self.doctor, invoice).action_send_and_print()
        self.assertIn("535", self.mailbox.mcl_diagnosis, "the diagnosis stays on the mailbox, for its owner")
        self.env["ir.mail_server"]._cron_mcl_report_failures()  # the owner is told, after the sending

        activity_type = self.env.ref("mcl_mailbox.mail_activity_type_mailbox_failure")
        notes, error = self.xmlrpc(self.physio, "mail.activity", "search_read",
                                   [("activity_type_id", "=", activity_type.id)], fields=["note", "res_id"])
        self.assertFalse(error)
        self.assertIn(invoice.id, [note["res_id"] for note in notes], "the colleague reads the invoice's to-do")
        for note in notes:
            for secret in ("535", "not accepted", self.doctor_address, "localhost",
                           str(self.ports["smtps"]), str(self.ports["imaps"])):
                self.assertNotIn(secret, note["note"])
            self.assertIn("Preferences", note["note"], "it says where to look")

    def test_a_delegate_learns_that_the_mailbox_needs_attention_not_its_diagnosis(self):
        self.name_delegates(self.secretary)
        self.stack.set_smtp_reply(self.doctor_address, FAILURE_REPLY)
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)
        self.send_wizard(self.doctor, self.make_invoice(self.doctor)).action_send_and_print()
        [values], error = self.xmlrpc(self.secretary, "ir.mail_server", "read", [self.mailbox.id],
                                      ["mcl_state", "mcl_diagnosis"])
        self.assertFalse(error)
        self.assertEqual(values["mcl_state"], "attention")
        for secret in ("535", self.doctor_address, "localhost", str(self.ports["smtps"])):
            self.assertNotIn(secret, values["mcl_diagnosis"])
        _values, error = self.xmlrpc(self.secretary, "ir.mail_server", "read", [self.mailbox.id], ["mcl_last_error"])
        self.assertIn("AccessError", error, "the raw last problem is for administrators")
        [values], error = self.xmlrpc(self.doctor, "ir.mail_server", "read", [self.mailbox.id], ["mcl_diagnosis"])
        self.assertIn("535", values["mcl_diagnosis"], "the owner reads the whole diagnosis")

    def test_a_waiting_email_changed_by_a_colleague_no_longer_leaves_through_her_mailbox(self):
        """Review N1/N3: the doctor's email waits (password revoked); a colleague who may write the invoice
        rewrites its Reply-To, subject and PDF, and reads why it failed."""
        self.stack.set_smtp_reply(self.doctor_address, FAILURE_REPLY)
        self.addCleanup(self.stack.set_smtp_reply, self.doctor_address, None)
        invoice = self.make_invoice(self.doctor)
        self.send_wizard(self.doctor, invoice).action_send_and_print()
        [mail] = self.invoice_mails(invoice)
        self.assertEqual(mail.state, "exception")

        reasons, error = self.xmlrpc(self.secretary, "mail.notification", "search_read",
                                     [("mail_message_id", "=", mail.mail_message_id.id)], fields=["failure_reason"])
        self.assertFalse(error)
        self.assertTrue(reasons, "the colleague sees that it failed")
        for reason in reasons:
            for secret in ("535", "not accepted", "localhost", str(self.ports["smtps"])):
                self.assertNotIn(secret, reason["failure_reason"] or "")

        _result, error = self.xmlrpc(self.secretary, "mail.message", "write", [mail.mail_message_id.id],
                                     {"reply_to": "billing@evil.example", "subject": "Nouvelles coordonnées bancaires"})
        self.assertFalse(error, "Odoo lets whoever may write the invoice write its messages")
        self.tripwire()
        self.mailbox.sudo().mcl_last_error = False  # the owner fixed the mailbox
        mail.sudo().write({"state": "outgoing", "failure_type": False})
        self.send_queue()
        self.assert_doctor_mailbox_unused()
        [received] = self.inbox()
        self.assertEqual(received["Subject"], "Nouvelles coordonnées bancaires", "it went the practice's way")

    def test_a_delegate_cannot_post_as_the_owner_through_her_mailbox(self):
        """Review N7: the delegate's own messages may leave from the mailbox, never authored as its owner."""
        self.name_delegates(self.secretary)
        self.tripwire()
        invoice = self.make_invoice(self.doctor)
        self.post_over_rpc(self.secretary, invoice, author_id=self.doctor.partner_id.id, email_from=self.doctor_address)
        self.assert_doctor_mailbox_unused()

    def test_sending_an_invoice_waiting_in_the_doctors_batch_uses_the_senders_own_rights(self):
        """Review N8: while the doctor's batch waits, the secretary's own send is hers, not the doctor's."""
        invoice = self.make_invoice(self.doctor)
        self.env["account.move.send.batch.wizard"].with_user(self.doctor).with_context(
            active_model="account.move", active_ids=invoice.ids,
        ).create({}).action_send_and_print()
        self.tripwire()
        self.env["account.move.send"].with_user(self.secretary)._generate_and_send_invoices(
            invoice.with_user(self.secretary), sending_methods={"email"})
        self.assert_doctor_mailbox_unused()
        messages = invoice.message_ids.filtered(lambda message: message.message_type == "comment")
        self.assertEqual(messages.create_uid, self.secretary)

    # ------------------------------------------------------------------
    # Delegation
    # ------------------------------------------------------------------

    def test_a_delegate_cannot_pick_the_owners_mailbox_for_another_practitioners_invoice(self):
        """The wizard's "Sent from" offers a delegated mailbox only for its owner's invoices; a forged
        choice is ignored: the physio's invoice never leaves under the doctor's name."""
        self.name_delegates(self.secretary)
        self.tripwire()
        invoice = self.make_invoice(self.physio)
        wizard = self.send_wizard(self.secretary, invoice)
        self.assertNotIn(self.mailbox, wizard.mcl_usable_mailbox_ids)
        self.assertFalse(wizard.mcl_mail_server_id)
        wizard.mcl_mail_server_id = self.mailbox  # as a crafted RPC call would
        wizard.action_send_and_print()
        self.assert_doctor_mailbox_unused()
        self.assertNotIn(self.doctor_address, [m["From"].addresses[0].addr_spec for m in self.inbox()])

    def test_a_delegate_sends_the_owners_invoice_from_her_mailbox(self):
        self.name_delegates(self.secretary)
        invoice = self.make_invoice(self.doctor)
        wizard = self.send_wizard(self.secretary, invoice)
        self.assertEqual(wizard.mcl_mail_server_id.display_name, f"Cabinet <{self.doctor_address}>")
        self.assertIn("Dr Claire Martin", wizard.mcl_sent_from_hint)
        self.assertEqual(wizard.mail_template_id, self.template, "the owner's template, the secretary has none")
        wizard.action_send_and_print()

        [received] = self.inbox()
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet")
        self.assert_from_the_doctor(received)
        message = invoice.message_ids.filtered(lambda message: message.message_type == "comment")
        self.assertEqual(message.author_id, self.secretary.partner_id, "the chatter names who sent it")

        self.tripwire()  # someone the doctor did not name
        other = self.make_invoice(self.doctor)
        wizard = self.send_wizard(self.physio, other)
        self.assertFalse(wizard.mcl_mail_server_id)
        wizard.action_send_and_print()
        self.assert_doctor_mailbox_unused()
        self.assertEqual(len(self.inbox()), 2)

    def test_a_delegates_batch_leaves_from_the_owners_mailbox(self):
        """Only the owner's invoices: the physio's invoice in the same batch does not leave from the doctor's
        mailbox (review N6: it would be filed in her Sent folder and its replies would reach her)."""
        self.name_delegates(self.secretary)
        doctors, physios = self.make_invoice(self.doctor), self.make_invoice(self.physio)
        self.batch_send(self.secretary, doctors + physios)
        received = {message["Subject"]: message for message in self.inbox()}
        self.assertEqual(len(received), 2, "both invoices arrive")
        self.assert_from_the_doctor(received[f"Votre facture {doctors.name} du cabinet"])
        others = [message for subject, message in received.items() if doctors.name not in subject]
        self.assertIn(physios.name, others[0]["Subject"])
        self.assertNotEqual(others[0]["From"].addresses[0].addr_spec, self.doctor_address)
        messages = (doctors + physios).message_ids.filtered(lambda message: message.message_type == "comment")
        self.assertEqual(messages.create_uid, self.secretary, "written in Odoo as the secretary")

    def test_a_delegate_reads_the_mailbox_but_never_changes_tests_or_opens_it(self):
        self.name_delegates(self.secretary)
        self.tripwire()
        before = self.snapshot()
        [values], error = self.xmlrpc(self.secretary, "ir.mail_server", "read", [self.mailbox.id],
                                      ["name", "mcl_email"])
        self.assertFalse(error)
        self.assertEqual(values["mcl_email"], self.doctor_address)
        own_address, own_password = self.new_account()
        ids = [self.mailbox.id]
        attacks = [
            ("write", "ir.mail_server", "write", [ids, {"smtp_host": "evil.example"}], {}),
            ("new password", "ir.mail_server", "write", [ids, {"mcl_password": own_password}], {}),
            ("unlink", "ir.mail_server", "unlink", [ids], {}),
            ("open the set-up", "ir.mail_server", "action_mcl_open_setup", [ids], {}),
            ("Odoo's test", "ir.mail_server", "test_smtp_connection", [ids], {}),
            ("connect", "ir.mail_server", "connect", [[]], {"mail_server_id": self.mailbox.id}),
            ("decrypt", "ir.mail_server", "_mcl_decrypt_password", [ids], {}),
            ("set-up naming it", "mcl.mailbox.setup", "create", [{
                "mail_server_id": self.mailbox.id, "terms_accepted": True, "name": "Mine now",
                "email": own_address, "login": own_address, "imap_host": "localhost",
                "imap_port": self.ports["imaps"], "smtp_host": "localhost", "smtp_port": self.ports["smtps"],
            }], {}),
        ]
        for name, model, method, args, kwargs in attacks:
            result, error = self.xmlrpc(self.secretary, model, method, *args, **kwargs)
            if name == "set-up naming it" and not error:
                result, error = self.xmlrpc(self.secretary, model, "action_test_and_save", [result])
            self.assertTrue(error, f"a delegate's {name} gave {result}")
        self.assertEqual(self.snapshot(), before, "the mailbox is untouched, never logged in to")

    def test_only_other_internal_users_can_be_named(self):
        portal = new_test_user(self.env, "mcl_portal", groups="base.group_portal", name="Patient portail")
        for users in (self.doctor, portal):
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.mailbox.write({"mcl_delegate_user_ids": [Command.set(users.ids)]})
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.shared.write({"mcl_delegate_user_ids": [Command.set(self.secretary.ids)]})
