"""Adding and changing a mailbox: test, then save, against the local Dovecot/aiosmtpd stack."""

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from odoo.addons.mcl_mailbox.core import oauth, probe
from odoo.addons.mcl_mailbox.diagnoses import DIAGNOSES

from .common import MailboxCase

GMAIL_APP_PASSWORD_REQUIRED = (
    "534-5.7.9 Application-specific password required. Learn more at\n"
    "534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor"
)
GMAIL_IMAP_DISABLED = (
    "NO [ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page "
    "and enable your account for IMAP access. (Failure)"
)
MICROSOFT_BASIC_AUTH = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
YAHOO_TOO_MANY = "535 5.7.0 (#AUTH005) Too many bad auth attempts."


@tagged("post_install", "-at_install")
class TestMailboxSetup(MailboxCase):
    def mailboxes(self, address):
        return self.env["ir.mail_server"].sudo().with_context(active_test=False).search([("mcl_email", "=", address)])

    def assert_fails(self, form, *expected):
        action = form.action_test_and_save()
        self.assertEqual(action["res_model"], "mcl.mailbox.setup", "a failed test keeps the user in the form")
        for text in expected:
            self.assertIn(text, form.diagnosis)
        self.assertFalse(self.mailboxes(form.email), "nothing is saved when the test fails")
        self.assertFalse(form.sudo().mcl_password_token, "the password is cleared after a failure")
        return form.diagnosis

    def test_implicit_tls_connects_and_saves(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        self.assertEqual(mailbox.owner_user_id, self.doctor)
        self.assertEqual(mailbox.from_filter, address)
        self.assertEqual((mailbox.smtp_encryption, mailbox.mcl_imap_encryption), ("ssl", "ssl"))
        self.assertEqual(mailbox.mcl_state, "connected")
        self.assertEqual(mailbox.mcl_consent_user_id, self.doctor)
        self.assertTrue(mailbox.mcl_consent_date)
        self.assertTrue(mailbox.mcl_diagnosis_date)
        self.assertFalse(mailbox.smtp_pass)
        self.assertNotIn(password, mailbox.mcl_password_token)
        self.assertEqual(self.stored_password(mailbox), password)

    def test_starttls_connects_and_saves(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(
            self.doctor, address, password,
            imap_port=self.ports["imap"], imap_encryption="starttls",
            smtp_port=self.ports["submission"], smtp_encryption="starttls",
        )
        self.assertEqual((mailbox.smtp_port, mailbox.smtp_encryption), (self.ports["submission"], "starttls"))
        self.assertEqual(mailbox.mcl_imap_encryption, "starttls")

    def test_success_notifies_and_closes(self):
        address, password = self.new_account()
        action = self.setup_form(self.doctor, address, password).action_test_and_save()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(address, action["params"]["message"])
        self.assertEqual(action["params"]["next"], {"type": "ir.actions.act_window_close"})

    def test_spaces_of_the_app_password_are_ignored(self):
        address, password = self.new_account()
        spaced = " ".join(password[i:i + 4] for i in range(0, len(password), 4))
        mailbox = self.connect_mailbox(self.doctor, address, spaced)
        self.assertEqual(self.stored_password(mailbox), password)

    def test_wrong_password_fails_on_both_sides_and_saves_nothing(self):
        address, _password = self.new_account()
        form = self.setup_form(self.doctor, address, "not-the-password")
        diagnosis = self.assert_fails(form, "Incoming mail (IMAP)", "Outgoing mail (SMTP)",
                                      "refused the login or the password", "What to do", "Server reply")
        self.assertNotIn("not-the-password", diagnosis)
        self.assertEqual(form.email, address, "what the user typed stays")

    def test_closed_port(self):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, smtp_port=self.ports["smtps"] + 5000)
        diagnosis = self.assert_fails(form, "Outgoing mail (SMTP)", "Nothing answers")
        self.assertNotIn("Incoming mail (IMAP)", diagnosis, "only the failing side is blamed")

    def test_ssl_on_a_starttls_port(self):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, smtp_port=self.ports["submission"])
        self.assert_fails(form, "Outgoing mail (SMTP)", "expects STARTTLS")

    def test_starttls_on_an_ssl_port(self):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, smtp_encryption="starttls")
        self.assert_fails(form, "Outgoing mail (SMTP)", "expects SSL/TLS from the start")

    def test_untrusted_certificate_is_refused(self):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, smtp_port=self.ports["smtps_untrusted"])
        self.assert_fails(form, "Outgoing mail (SMTP)", "not signed by a trusted authority")

    def test_gmail_app_password_required(self):
        address, password = self.new_account()
        self.stack.set_smtp_reply(address, GMAIL_APP_PASSWORD_REQUIRED)
        self.addCleanup(self.stack.set_smtp_reply, address, None)
        form = self.setup_form(self.doctor, address, password)
        self.assert_fails(form, "requires an app password", "2-Step Verification", "InvalidSecondFactor")

    def test_gmail_imap_disabled(self):
        address, password = self.new_account()
        self.stack.set_imap_reply(address, GMAIL_IMAP_DISABLED)
        self.addCleanup(self.stack.set_imap_reply, address, None)
        form = self.setup_form(self.doctor, address, password, imap_port=self.ports["imap_replay"])
        self.assert_fails(form, "Incoming mail (IMAP)", "IMAP access is turned off", "Turn IMAP on")

    def test_microsoft_basic_auth_disabled(self):
        address, password = self.new_account()
        self.stack.set_smtp_reply(address, MICROSOFT_BASIC_AUTH)
        self.addCleanup(self.stack.set_smtp_reply, address, None)
        form = self.setup_form(self.doctor, address, password)
        self.assert_fails(form, "Microsoft refuses passwords", "Outlook sign-in", "5.7.139")

    def test_too_many_attempts(self):
        address, password = self.new_account()
        self.stack.set_smtp_reply(address, YAHOO_TOO_MANY)
        self.addCleanup(self.stack.set_smtp_reply, address, None)
        form = self.setup_form(self.doctor, address, password)
        self.assert_fails(form, "Too many failed sign-in attempts", "#AUTH005")

    def test_terms_must_be_accepted(self):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, terms_accepted=False)
        with self.assertRaisesRegex(UserError, "terms of use"):
            form.action_test_and_save()
        self.assertFalse(self.mailboxes(address))

    def test_prefill_picks_the_provider_from_the_domain(self):
        form = self.env["mcl.mailbox.setup"].with_user(self.doctor).create({"email": "Claire.Martin@Gmail.com"})
        form.action_prefill()
        self.assertEqual(form.mcl_provider_id, self.env.ref("mcl_mailbox.provider_gmail"))
        self.assertEqual((form.imap_host, form.imap_port), ("imap.gmail.com", 993))
        self.assertEqual(form.login, "claire.martin@gmail.com")
        free = self.env["mcl.mailbox.setup"].with_user(self.doctor).create({"email": "jean.dupont@free.fr"})
        free.action_prefill()
        self.assertEqual(free.login, "jean.dupont", "Free logs in with the part before the @")

    def test_prefill_on_an_unknown_domain_asks_for_the_settings(self):
        form = self.env["mcl.mailbox.setup"].with_user(self.doctor).create({"email": "vous@votresiteweb.example"})
        form.action_prefill()
        self.assertEqual(form.mcl_provider_id, self.env.ref("mcl_mailbox.provider_manual"))
        self.assertIn("No preset covers", form.diagnosis)

    def test_reentering_a_revoked_password_keeps_the_settings(self):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password, signature="<p>Dr Martin</p>")
        old_token = mailbox.mcl_password_token
        new_password = password + "new"
        self.stack.add_user(address, new_password)  # the provider revoked the old app password

        form = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        self.assertEqual((form.email, form.smtp_port, form.name), (address, mailbox.smtp_port, mailbox.name))
        self.assertIn("Dr Martin", form.signature)
        form.action_test_and_save()
        self.assertIn("refused the login", form.diagnosis)
        self.assertEqual(mailbox.mcl_password_token, old_token, "a failed test changes nothing")

        form.mcl_password = new_password
        form.action_test_and_save()
        self.assertEqual(len(self.mailboxes(address)), 1, "the same mailbox, not a new one")
        self.assertNotEqual(mailbox.mcl_password_token, old_token)
        self.assertEqual(self.stored_password(mailbox), new_password)
        self.assertIn("Dr Martin", mailbox.mcl_signature)

    def test_an_address_connects_once(self):
        address, password = self.new_account()
        self.connect_mailbox(self.doctor, address, password)
        form = self.setup_form(self.physio, address, password)
        with self.assertRaisesRegex(UserError, "already connected"):
            form.action_test_and_save()


@tagged("post_install", "-at_install")
class TestMailboxInput(MailboxCase):
    """Bad input gets a specific message and nothing is saved."""

    def assert_refused(self, pattern, **values):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, **values)
        with self.assertRaisesRegex(UserError, pattern):
            form.action_test_and_save()
        self.assertFalse(self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)]))

    def test_invalid_address(self):
        self.assert_refused("not a valid email address", email="claire.martin@")

    def test_header_injection_in_address_and_label(self):
        self.assert_refused("not a valid email address", email="a@practice.test\r\nBcc: x@evil.test")
        self.assert_refused("one line", name="Cabinet\r\nBcc: x@evil.test")

    def test_host_with_scheme_or_path(self):
        self.assert_refused("is not a server name", smtp_host="https://smtp.gmail.com")
        self.assert_refused("is not a server name", imap_host="imap.gmail.com/inbox")

    def test_ports_out_of_range(self):
        self.assert_refused("between 1 and 65535", smtp_port=0)
        self.assert_refused("between 1 and 65535", imap_port=70000)

    def test_empty_or_blank_password(self):
        address, _password = self.new_account()
        for blank in ("", "    "):
            form = self.setup_form(self.doctor, address, blank)
            with self.assertRaisesRegex(UserError, "Type the app password"):
                form.action_test_and_save()

    def test_no_encryption_is_for_administrators(self):
        self.assert_refused("Only an administrator", smtp_encryption="none")


@tagged("post_install", "-at_install")
class TestMailboxSetupForm(MailboxCase):
    def test_the_login_follows_the_address_in_the_providers_form(self):
        form = Form(self.env["mcl.mailbox.setup"].with_user(self.doctor))
        form.terms_accepted = True
        form.mcl_provider_id = self.env.ref("mcl_mailbox.provider_free")
        form.email = "Jean.Dupont@free.fr"
        self.assertEqual(form.login, "jean.dupont")
        self.assertEqual((form.imap_host, form.smtp_host), ("imap.free.fr", "smtp.free.fr"))


@tagged("post_install", "-at_install")
class TestDiagnoses(MailboxCase):
    def test_every_probe_and_sign_in_code_has_its_explanation(self):
        """A failure the probe or the sign-in names is never explained as "the connection failed" for want
        of a text."""
        self.assertEqual(set(DIAGNOSES), (set(probe.CODES) - {"unknown"}) | set(oauth.CODES))

    def test_the_explanation_names_the_server_and_says_what_to_do(self):
        endpoint = probe.Endpoint("imap.example.test", 993, "ssl", "claire@example.test", "")
        text = self.env["ir.mail_server"]._mcl_explain(probe.Diagnosis("imap", "refused", ""), endpoint)
        self.assertIn("Nothing answers on imap.example.test, port 993.", text)
        self.assertIn("What to do: Check the port", text)
        mailbox = self.env["ir.mail_server"].new({"mcl_provider_id": self.provider.id})
        text = mailbox._mcl_explain(probe.Diagnosis("imap", "auth_failed", ""), endpoint)
        self.assertIn("Create a new app password", text)
        self.assertIn("(claire@example.test)", text)
