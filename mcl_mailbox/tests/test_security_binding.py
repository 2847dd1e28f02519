"""A stored password reaches only the server it was saved for (security review F1, F4a, F4b).

Each attack points a mailbox, or a set-up form, at an attacker's server that accepts any login
and records every line: the test fails if the victim's password, in any form, ever reaches it.
"""

from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.service.model import get_public_method
from odoo.tests import new_test_user, tagged

from odoo.addons.mcl_mailbox.core.probe import Endpoint

from .common import MailboxCase
from .hostile_servers import server_tls_context
from .recording_servers import RecordingServer
from .security_common import secret_forms

SERVER_CHANGED = "the server settings changed"
TRIPWIRE = "535 5.7.8 tripwire: this mailbox must not be used here"


@tagged("post_install", "-at_install")
class TestPasswordStaysWithItsServer(MailboxCase):
    def setUp(self):
        super().setUp()
        self.address, self.password = self.new_account()
        self.mailbox = self.connect_mailbox(self.doctor, self.address, self.password)
        tls = self.stack.layout.tls_dir
        context = server_tls_context(tls / "server.pem", tls / "server.key")
        self.imap_trap = RecordingServer("imap", context)
        self.smtp_trap = RecordingServer("smtp", context)
        self.addCleanup(self.imap_trap.stop)
        self.addCleanup(self.smtp_trap.stop)

    def trap_hosts(self):
        return {"imap_host": "localhost", "imap_port": self.imap_trap.port, "imap_encryption": "ssl",
                "smtp_host": "localhost", "smtp_port": self.smtp_trap.port, "smtp_encryption": "ssl"}

    def assert_password_never_left(self):
        for trap in (self.imap_trap, self.smtp_trap):
            self.assertFalse(trap.heard(*secret_forms(self.address, self.password)),
                             f"the attacker's {trap.protocol} server received the doctor's password")

    def snapshot(self):
        self.mailbox.invalidate_recordset()
        return self.mailbox.sudo().read(["name", "smtp_host", "smtp_port", "smtp_user", "mcl_imap_host",
                                         "mcl_imap_port", "mcl_signature", "mcl_password_token", "owner_user_id"])

    def test_a_colleague_cannot_make_a_form_of_the_doctors_mailbox(self):
        """F1: the form carrying the doctor's mailbox and the colleague's servers, no password typed."""
        before = self.snapshot()
        forged = dict(self.trap_hosts(), mail_server_id=self.mailbox.id, terms_accepted=True, name="x",
                      email=self.address, login=self.address)
        Setup = self.env["mcl.mailbox.setup"]
        for attacker in (self.physio, self.secretary):
            with self.assertRaises(AccessError, msg="create"):
                Setup.with_user(attacker).create(forged)
            own_form = Setup.with_user(attacker).create({"terms_accepted": True})
            with self.assertRaises(AccessError, msg="write"):
                own_form.write(forged)
        self.assertEqual(self.snapshot(), before, "the doctor's mailbox is left exactly as it was")
        self.assert_password_never_left()

    def test_changing_the_servers_of_a_mailbox_asks_for_the_password_again(self):
        """F1/F4a: the owner or an administrator changes host, port, security or login, leaves the password."""
        before = self.snapshot()
        changes = [self.trap_hosts(), {"smtp_port": self.smtp_trap.port}, {"imap_port": self.imap_trap.port},
                   {"smtp_encryption": "starttls", "smtp_port": self.ports["submission"]},
                   {"login": "someone-else@practice.test"}]
        for user in (self.doctor, self.admin):
            for change in changes:
                form = self.env["mcl.mailbox.setup"].browse(
                    self.mailbox.with_user(user).action_mcl_open_setup()["res_id"]).with_user(user)
                form.write(change)
                with self.assertRaisesRegex(UserError, SERVER_CHANGED, msg=f"{user.login}: {change}"):
                    form.action_test_and_save()
        self.assertEqual(self.snapshot(), before, "nothing is saved")
        self.assert_password_never_left()

    def test_an_unchanged_mailbox_keeps_its_password(self):
        form = self.env["mcl.mailbox.setup"].browse(
            self.mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        form.signature = "<p>Dr Claire Martin, médecin généraliste</p>"
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        self.assertEqual(self.mailbox.mcl_state, "connected")
        patient, _password = self.new_account()
        self.assertEqual(self.send_mail(self.doctor, self.address, patient).state, "sent")

    def test_an_administrator_editing_the_server_and_testing_it_sends_nothing(self):
        """F4b: Technical > Outgoing servers: edit the host of a personal mailbox, then "Test Connection"."""
        mailbox = self.mailbox.with_user(self.admin)
        mailbox.write({"smtp_host": "localhost", "smtp_port": self.smtp_trap.port})
        with self.assertRaisesRegex(UserError, SERVER_CHANGED):
            mailbox.test_smtp_connection()
        self.assert_password_never_left()
        self.assertEqual(mailbox.mcl_state, "attention")
        self.assertIn(SERVER_CHANGED, mailbox.mcl_diagnosis, "the owner is told to type the password again")
        patient, _password = self.new_account()
        mail = self.send_mail(self.doctor, self.address, patient)
        self.assertEqual(mail.state, "exception", "the doctor's mail waits instead of going to the new host")
        self.assert_password_never_left()

    def test_a_token_copied_to_another_mailbox_opens_nothing(self):
        """Someone who can write the database copies the doctor's token onto their own mailbox."""
        own_address, own_password = self.new_account()
        own = self.connect_mailbox(self.physio, own_address, own_password)
        own.sudo().write(dict(smtp_user=self.address, smtp_host="localhost", smtp_port=self.smtp_trap.port))
        self.env.cr.execute("UPDATE ir_mail_server SET mcl_password_token = %s WHERE id = %s",
                            [self.mailbox.sudo().mcl_password_token, own.id])
        own.invalidate_recordset()
        self.assertEqual(own.mcl_state, "attention")
        with self.assertRaisesRegex(UserError, SERVER_CHANGED):
            own.sudo()._mcl_decrypt_password(own._mcl_smtp_endpoint(""))
        with self.assertRaises(UserError):
            own.sudo().test_smtp_connection()
        self.assert_password_never_left()

    def test_only_the_owner_has_odoo_use_the_password(self):
        smtp = self.mailbox._mcl_smtp_endpoint("")
        for user in (self.physio, self.secretary):
            with self.assertRaises(AccessError):
                self.env["ir.mail_server"].with_user(user).browse(self.mailbox.id)._mcl_decrypt_password(smtp)
        self.assertEqual(self.mailbox.with_user(self.doctor)._mcl_decrypt_password(smtp), self.password)
        with self.assertRaisesRegex(UserError, SERVER_CHANGED, msg="to any other endpoint, never"):
            self.mailbox.sudo()._mcl_decrypt_password(Endpoint("localhost", self.smtp_trap.port, "ssl",
                                                                self.address, ""))

    def test_a_mailbox_whose_owner_is_cleared_gives_its_password_to_nobody(self):
        """Review F-A: an administrator blanks the owner (an import does it): the token no longer opens,
        neither for the mail queue nor for anybody calling ``connect``."""
        self.stack.set_smtp_reply(self.address, TRIPWIRE)
        self.addCleanup(self.stack.set_smtp_reply, self.address, None)
        self.mailbox.with_user(self.admin).owner_user_id = False
        self.assertFalse(self.mailbox._mcl_token_fits())
        portal = new_test_user(self.env, "mcl_portal_binding", groups="base.group_portal")
        for user in (portal, self.physio):
            with self.assertRaises(AccessError, msg=user.login):
                self.env["ir.mail_server"].with_user(user).connect(mail_server_id=self.mailbox.id)
        patient, _password = self.new_account()
        mail = self.send_mail(self.doctor, self.address, patient)
        self.assertNotIn("tripwire", mail.failure_reason or "", "no login was tried with the password")
        self.assertNotIn("tripwire", self.mailbox.mcl_last_error or "")

    def test_the_smtp_session_does_not_keep_the_password(self):
        """Review F-B: smtplib keeps the password on the connection after login; ours forgets it."""
        connection = self.env["ir.mail_server"].connect(mail_server_id=self.mailbox.id)
        try:
            self.assertFalse(connection.password)
            self.assertNotIn(self.password, repr(vars(connection)))
        finally:
            connection.quit()

    def test_a_token_opens_in_its_own_database_only(self):
        """Review F-C: the keys of odoo.conf serve every database; a token copied into another one is dead."""
        with patch.object(self.env.cr, "dbname", f"{self.env.cr.dbname}_copy"):
            self.assertFalse(self.mailbox._mcl_token_fits())
            with self.assertRaisesRegex(UserError, SERVER_CHANGED):
                self.stored_password(self.mailbox)
        self.assertEqual(self.stored_password(self.mailbox), self.password)

    def test_connect_and_send_email_are_not_callable_remotely(self):
        """Review F-J: over RPC, ``connect(host=…)`` would send odoo.conf's SMTP credentials anywhere."""
        for name in ("connect", "send_email"):
            with self.assertRaisesRegex(AccessError, "cannot be called remotely"):
                get_public_method(self.env["ir.mail_server"].with_user(self.physio), name)

    def test_odoo_tests_a_shared_server_for_administrators_only(self):
        """Review F-J: Odoo's "Test Connection" logs in with the server's stored password."""
        shared = self.env["ir.mail_server"].create({
            "name": "Practice server", "smtp_host": "localhost", "smtp_port": self.smtp_trap.port,
            "smtp_encryption": "ssl", "smtp_user": "practice", "smtp_pass": "practice-secret",
        })
        for method in ("test_smtp_connection", "action_retrieve_max_email_size"):
            with self.assertRaises(AccessError, msg=method):
                getattr(shared.with_user(self.physio), method)()
        self.assertFalse(self.smtp_trap.heard(*secret_forms("practice", "practice-secret")))
