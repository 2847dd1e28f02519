"""TLS: a bad certificate is refused with a clear message, at set-up and when sending."""

from lxml import etree

from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import MailboxCase

BAD_CERTIFICATES = {  # stack port: what the user reads
    "smtps_untrusted": "not signed by a trusted authority",
    "smtps_expired": "certificate has expired",
    "smtps_wronghost": "not valid for the name “localhost”",
}


@tagged("post_install", "-at_install")
class TestTls(MailboxCase):
    def assert_refused_at_set_up(self, expected, **values):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, **values)
        form.action_test_and_save()
        self.assertIn(expected, form.diagnosis or "")
        self.assertFalse(self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)]))

    def test_set_up_refuses_an_expired_or_misnamed_certificate(self):
        for port in ("smtps_expired", "smtps_wronghost"):
            self.assert_refused_at_set_up(BAD_CERTIFICATES[port], smtp_port=self.ports[port])
        # the IMAP side is checked as strictly
        self.assert_refused_at_set_up(BAD_CERTIFICATES["smtps_expired"], imap_port=self.ports["smtps_expired"])

    def test_sending_refuses_a_bad_certificate_and_keeps_the_email(self):
        address, password = self.new_account()
        patient, _patient_password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        for port, expected in BAD_CERTIFICATES.items():
            mailbox.smtp_port = self.ports[port]  # the server now shows another certificate
            mailbox.mcl_password = password  # typed again: a password opens only for the port it was saved for
            mail = self.send_mail(self.doctor, address, patient)
            self.assertEqual(mail.state, "exception", port)
            self.assertIn(expected, mail.failure_reason)
            self.assertNotIn("Traceback", mail.failure_reason)
            self.assertEqual(mailbox.mcl_state, "attention")
            self.assertIn(expected, mailbox.mcl_diagnosis)

    def test_no_encryption_is_an_administrators_choice(self):
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password)
        form.smtp_encryption = "none"
        warning = form._onchange_encryption_none()
        self.assertIn("Only an administrator", warning["warning"]["message"])
        self.assertEqual(form.smtp_encryption, "ssl", "set back for a practitioner")
        form = self.setup_form(self.admin, address, password, smtp_port=self.ports["submission"],
                               smtp_encryption="none")
        form.action_test_and_save()  # allowed, and then the plain port offers no sign-in before STARTTLS
        self.assertIn("does not offer sign-in", form.diagnosis)

    def test_a_mailbox_without_encryption_shows_a_warning(self):
        view = self.env.ref("mcl_mailbox.ir_mail_server_view_form_mailbox")
        arch = etree.fromstring(self.env["ir.mail_server"].with_user(self.doctor).get_view(view.id)["arch"])
        [warning] = arch.xpath("//div[contains(@class, 'o_mcl_unencrypted')]")
        self.assertIn("Not encrypted", "".join(warning.itertext()))
        for smtp, imap, shown in (("none", "ssl", True), ("ssl", "none", True), ("ssl", "starttls", False)):
            hidden = safe_eval(warning.get("invisible"), {"smtp_encryption": smtp, "mcl_imap_encryption": imap})
            self.assertEqual(not hidden, shown, (smtp, imap))
