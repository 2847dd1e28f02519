"""Isolation over RPC: nobody reads, changes, deletes, tests or sends through another person's mailbox."""

import uuid

from odoo.tests import HttpCase, tagged

from .common import MailboxCase
from .security_common import RpcMixin

# Any login with a tripwired account fails with this reply: a mailbox that must not be used shows it.
TRIPWIRE = "535 5.7.8 tripwire: this mailbox must not be used here"


@tagged("post_install", "-at_install")
class TestIsolationOverRpc(RpcMixin, HttpCase, MailboxCase):
    def setUp(self):
        super().setUp()
        self.doctor_address, _password = self.new_account()
        self.doctor_mailbox = self.connect_mailbox(self.doctor, self.doctor_address, _password)
        self.physio_address, _password = self.new_account()
        self.physio_mailbox = self.connect_mailbox(self.physio, self.physio_address, _password)

    def tripwire(self, login):
        self.stack.set_smtp_reply(login, TRIPWIRE)
        self.addCleanup(self.stack.set_smtp_reply, login, None)

    def snapshot(self, mailbox):
        mailbox.invalidate_recordset()
        return mailbox.sudo().read(["name", "smtp_host", "smtp_user", "smtp_port", "mcl_password_token",
                                    "mcl_last_error", "owner_user_id"])

    def attacks(self, attacker, victim):
        """(name, model, method, args, kwargs): every way to use another person's mailbox."""
        model, ids = "ir.mail_server", victim.ids
        own_address, own_password = self.new_account()
        return [
            ("read", model, "read", [ids, ["name", "mcl_email"]], {}),
            ("write", model, "write", [ids, {"smtp_host": "evil.example"}], {}),
            ("new password", model, "write", [ids, {"mcl_password": own_password}], {}),
            ("unlink", model, "unlink", [ids], {}),
            ("open the set-up", model, "action_mcl_open_setup", [ids], {}),
            ("Odoo's test", model, "test_smtp_connection", [ids], {}),
            ("connect", model, "connect", [[]], {"mail_server_id": victim.id}),
            ("connect by address", model, "connect", [[]], {"smtp_from": victim.mcl_email}),
            ("send_email", model, "send_email", [[], {"From": victim.mcl_email, "To": "x@patients.test"}],
             {"mail_server_id": victim.id}),
            ("hijack through the set-up", "mcl.mailbox.setup", "create", [{
                "mail_server_id": victim.id, "terms_accepted": True, "name": "Mine now", "email": own_address,
                "login": own_address, "mcl_password": own_password, "imap_host": "localhost",
                "imap_port": self.ports["imaps"], "smtp_host": "localhost", "smtp_port": self.ports["smtps"],
            }], {}),
        ]

    def test_nobody_reads_changes_deletes_or_tests_another_persons_mailbox(self):
        cases = [(self.physio, self.doctor_mailbox), (self.secretary, self.doctor_mailbox),
                 (self.doctor, self.physio_mailbox)]
        for attacker, victim in cases:
            self.tripwire(victim.smtp_user)
            before = self.snapshot(victim)
            for name, model, method, args, kwargs in self.attacks(attacker, victim):
                result, error = self.xmlrpc(attacker, model, method, *args, **kwargs)
                if name == "hijack through the set-up" and not error:  # refused at once, else saving must fail
                    result, error = self.xmlrpc(attacker, model, "action_test_and_save", [result])
                if name == "connect by address":  # never leads to a personal mailbox (F3): the snapshot shows it
                    continue
                self.assertIn("AccessError", error, f"{attacker.login}: {name} on {victim.name} gave {result}")
            self.assertEqual(self.snapshot(victim), before, "the mailbox is untouched, never logged in to")

    def test_nobody_reaches_another_persons_set_up_form(self):
        """The form holds the typed password until it is tested: pointed at another server, it would leak."""
        form = self.setup_form(self.doctor, *self.new_account())
        token = form.sudo().mcl_password_token
        evil = {"smtp_host": "evil.example", "imap_host": "evil.example"}
        for user in (self.physio, self.secretary, self.admin):
            for method, args in (("read", [["email", "login"]]), ("write", [evil]), ("action_test_and_save", []),
                                 ("unlink", [])):
                _result, error = self.xmlrpc(user, "mcl.mailbox.setup", method, [form.id], *args)
                self.assertIn("AccessError", error, f"{user.login}: {method}")
        form.invalidate_recordset()
        self.assertEqual((form.smtp_host, form.sudo().mcl_password_token), ("localhost", token))

    def post(self, user, email_from, patient, **author):
        """message_post over XML-RPC as ``user`` with ``email_from``; send it; return (notification, subject)."""
        subject = f"Facture {uuid.uuid4().hex[:8]}"
        message_id, error = self.xmlrpc(user, "res.partner", "message_post", [patient.id], body="<p>Bonjour</p>",
                                        subject=subject, email_from=email_from, partner_ids=[patient.id],
                                        message_type="comment", subtype_xmlid="mail.mt_comment", **author)
        self.assertFalse(error)
        self.env.invalidate_all()
        self.env["mail.mail"].sudo().search([("mail_message_id", "=", message_id), ("state", "=", "outgoing")]).send()
        notification = self.env["mail.notification"].sudo().search([
            ("mail_message_id", "=", message_id), ("res_partner_id", "=", patient.id)])
        return notification, subject

    def test_an_email_from_another_persons_address_does_not_leave_through_their_mailbox(self):
        practice_address, practice_password = self.new_account()
        self.env["ir.mail_server"].sudo().create({
            "name": "Practice server", "sequence": 1, "smtp_host": "localhost", "smtp_port": self.ports["smtps"],
            "smtp_encryption": "ssl", "smtp_authentication": "login", "smtp_user": practice_address,
            "smtp_pass": practice_password,
        })
        contacts = self.env.ref("base.group_partner_manager")
        (self.doctor | self.physio).write({"groups_id": [(4, contacts.id)]})  # they may write to a patient
        patient_address, patient_password = self.new_account()
        patient = self.env["res.partner"].create({"name": "Patient", "email": patient_address})

        self.tripwire(self.doctor_address)
        subjects = set()
        # with the address only (Odoo then finds no author), and naming oneself as the author
        for author in ({}, {"author_id": self.physio.partner_id.id}):
            notification, subject = self.post(self.physio, self.doctor_address, patient, **author)
            self.assertEqual(notification.notification_status, "sent", notification.mail_mail_id.failure_reason)
            subjects.add(subject)
        self.assertFalse(self.snapshot(self.doctor_mailbox)[0]["mcl_last_error"], "the doctor's mailbox was not used")
        self.stack.set_smtp_reply(self.doctor_address, None)

        self.tripwire(practice_address)  # the control: the doctor's own email leaves through her mailbox
        notification, own_subject = self.post(self.doctor, self.doctor_address, patient,
                                              author_id=self.doctor.partner_id.id)
        self.assertEqual(notification.notification_status, "sent", notification.mail_mail_id.failure_reason)
        received = {message["Subject"] for message in self.stack.fetch_messages(patient_address, patient_password)}
        self.assertLessEqual(subjects | {own_subject}, received)
