"""Sign-in with Microsoft: the flow, the tokens' life, the attacks, against a local identity server and
XOAUTH2 on the local IMAP and SMTP servers."""

import datetime
import time
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import common as odoo_test_common
from odoo.tests import tagged
from odoo.tools import config

from ..core import oauth, vault
from ..models.mcl_mailbox_mixin import configured_keys
from . import test_security_leaks
from .oauth_common import CLIENT_SECRET, GoogleMixin, OAuthCase, OAuthMixin, browser_signing_in_at
from .security_common import token_forms
from .test_invoice_sending import InvoiceCase
from .test_tours import TOUR_TIMEOUT, TourCase

TOUR_ADDRESS = "helene.tour@outlook.test"  # the address the browser tours type and expect


@tagged("post_install", "-at_install")
class TestSignInFlow(OAuthCase):
    def test_sign_in_test_and_save_then_an_invoice_email_leaves_from_the_mailbox(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.assertFalse(form.mcl_password)
        response = self.sign_in(form, self.doctor, address, password)
        self.assertIn(f"/odoo/action-mcl_mailbox.mcl_mailbox_setup_action/{form.id}", response.headers["Location"])
        self.assertEqual(form.signed_in_as, address)
        self.assertFalse(form.diagnosis)

        action = form.action_test_and_save()
        self.assertEqual(action["tag"], "display_notification", form.diagnosis)
        self.assertEqual(action["params"]["next"]["res_model"], "ir.mail_server", "back to the user's mailboxes")
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        self.assertEqual((mailbox.owner_user_id, mailbox.mcl_signed_in_as, mailbox.mcl_state),
                         (self.doctor, address, "connected"))
        self.assertEqual(self.stored_tokens(mailbox).account, address)

        patient, patient_password = self.new_account()
        mail = self.send_mail(self.doctor, address, patient, subject="Facture FAC/2026/00042")
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        [received] = self.stack.fetch_messages(patient, patient_password)
        self.assertEqual(received["Subject"], "Facture FAC/2026/00042")
        self.assertIn(address, received["From"])
        self.assertGreaterEqual(self.stack.oauth_stats()["xoauth2_smtp_ok"], 2, "the test and the send")

    def test_the_form_offers_the_sign_in_and_no_password_field_for_outlook(self):
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.assertEqual((form.provider_auth_kind, form.provider_oauth_service, form.sign_in_ready),
                         ("oauth", "microsoft", True))
        with self.assertRaisesRegex(UserError, "Sign in with Microsoft"):
            form.action_test_and_save()

    def test_an_administrator_who_has_not_entered_the_application_is_told_what_to_enter(self):
        self.env["ir.config_parameter"].sudo().set_param("microsoft_outlook_client_id", False)
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.assertFalse(form.sign_in_ready)
        with self.assertRaises(UserError) as refused:
            form.action_mcl_sign_in()
        message = refused.exception.args[0]
        self.assertIn("Outlook Credentials", message)
        self.assertIn(self.base_url() + "/mcl_mailbox/oauth/callback", message)
        self.assertIn("https://www.odoo.com/documentation/18.0/applications/general/email_communication/"
                      "azure_oauth.html", message)

    def test_the_authorization_request_names_the_mailbox_and_the_add_on_callback(self):
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        query = self.query(form.action_mcl_sign_in()["url"])
        self.assertEqual(query["login_hint"], address)
        self.assertEqual(query["redirect_uri"], self.base_url() + "/mcl_mailbox/oauth/callback")
        self.assertIn("https://outlook.office.com/SMTP.Send", query["scope"].split())
        self.assertIn("offline_access", query["scope"].split())
        self.assertTrue(query["state"].startswith(f"{form.id}."))


@tagged("post_install", "-at_install")
class TestSignInWithGoogle(GoogleMixin, OAuthCase):
    """A Gmail-like preset takes an app password or "Sign in with Google", against the identity server's
    Google-shaped endpoints (a refresh token only for an offline request, as at Google)."""

    def test_a_gmail_address_signs_in_with_google_and_its_email_leaves_from_it(self):
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.assertEqual((form.provider_auth_kind, form.sign_in_label), ("app_password", "Sign in with Google"),
                         "an app password or the sign-in")
        query = self.query(form.action_mcl_sign_in()["url"])
        self.assertEqual((query["access_type"], query["prompt"], query["login_hint"]), ("offline", "consent", address))
        self.assertIn("https://mail.google.com/", query["scope"].split())
        self.sign_in(form, self.doctor, address, password)
        self.assertEqual(form.signed_in_as, address)
        action = form.action_test_and_save()
        self.assertEqual(action.get("tag"), "display_notification", form.diagnosis)
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        self.assertTrue(self.stored_tokens(mailbox).refresh_token, "Google gave a refresh token: it can be renewed")

        patient, patient_password = self.new_account()
        with patch.object(oauth.time, "time", return_value=self.stored_tokens(mailbox).expires_at + 60):
            mail = self.send_mail(self.doctor, address, patient, subject="Facture FAC/2026/00077")
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        [received] = self.stack.fetch_messages(patient, patient_password)
        self.assertEqual(received["Subject"], "Facture FAC/2026/00077")
        self.assertIn(address, received["From"])


@tagged("post_install", "-at_install")
class TestSignInRefusals(OAuthCase):
    def test_declining_the_consent_is_explained_and_stores_nothing(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password, decision="decline")
        self.assertIn("You did not accept", form.diagnosis)
        self.assertIn("AADSTS65004", form.diagnosis)
        self.assertFalse(form.signed_in_as)
        self.assertFalse(form._mcl_token())

    def test_an_organisation_that_requires_its_administrators_approval_is_explained(self):
        address, password = self.new_outlook_account()
        self.stack.oauth_set_user(address, authorize_error="admin_consent_required")
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        self.assertIn("organisation's administrator does not allow", form.diagnosis)
        self.assertFalse(form._mcl_token())

    def test_signing_in_with_another_account_connects_nothing(self):
        address, _password = self.new_outlook_account()
        other, other_password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, other, other_password)
        self.assertIn(f"You signed in as {other}, but this mailbox is {address}", form.diagnosis)
        self.assertFalse(form._mcl_token(), "the other account's tokens are not kept")
        with self.assertRaisesRegex(UserError, "Sign in with Microsoft"):
            form.action_test_and_save()
        self.assertFalse(self.env["ir.mail_server"].sudo().search([("mcl_email", "in", (address, other))]))

    def test_smtp_auth_disabled_for_the_tenant_is_diagnosed_on_the_smtp_side(self):
        address, password = self.new_outlook_account()
        self.stack.oauth_set_user(address, smtp_auth_disabled=True)
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.action_test_and_save()
        self.assertIn("Outgoing mail (SMTP): SMTP sign-in is disabled for your Microsoft 365 organisation",
                      form.diagnosis)
        self.assertNotIn("Incoming mail (IMAP)", form.diagnosis)
        self.assertTrue(form._mcl_token(), "the sign-in is kept: the administrator's fix is tested without it")
        self.stack.oauth_set_user(address)
        self.assertEqual(form.action_test_and_save()["tag"], "display_notification", form.diagnosis)

    def test_imap_turned_off_is_diagnosed_on_the_imap_side(self):
        address, password = self.new_outlook_account()
        self.stack.oauth_set_user(address, imap_disabled=True)
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.action_test_and_save()
        self.assertIn("Incoming mail (IMAP)", form.diagnosis)
        self.assertIn("turn IMAP on", form.diagnosis)
        self.assertNotIn("Outgoing mail (SMTP)", form.diagnosis)


@tagged("post_install", "-at_install")
class TestSignInAttacks(OAuthCase):
    def test_a_forged_state_is_refused_and_exchanges_no_code(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        forged = callback.replace(self.query(callback)["state"], f"{form.id}.forged-nonce")
        before = self.stack.oauth_stats()["token_authorization_code"]
        self.assertEqual(self.come_back(self.doctor, forged).status_code, 403)
        self.assertEqual(self.stack.oauth_stats()["token_authorization_code"], before, "no code was redeemed")
        form.invalidate_recordset()
        self.assertFalse(form._mcl_token())

    def test_a_callback_used_twice_is_refused_the_second_time(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        self.assertEqual(self.come_back(self.doctor, callback).status_code, 303)
        self.assertEqual(self.come_back(self.doctor, callback).status_code, 403)

    def test_a_sign_in_left_for_too_long_is_refused(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        form.sudo().mcl_oauth_started -= datetime.timedelta(minutes=11)
        self.assertEqual(self.come_back(self.doctor, callback).status_code, 403)

    def test_a_colleague_cannot_complete_the_sign_in_of_someone_elses_form(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)  # the doctor's pending answer, seen by a colleague
        self.assertEqual(self.come_back(self.physio, callback).status_code, 403)
        form.invalidate_recordset()
        self.assertFalse(form._mcl_token())
        self.assertEqual(self.come_back(self.doctor, callback).status_code, 303, "the owner's sign-in still completes")
        form.invalidate_recordset()
        self.assertEqual(form.signed_in_as, address)

    def test_a_colleague_cannot_start_a_sign_in_on_someone_elses_form(self):
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        with self.assertRaises(AccessError):
            form.with_user(self.physio).action_mcl_sign_in()

    def test_the_tokens_cannot_be_read_and_open_only_for_the_saved_servers(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        with self.assertRaises(AccessError):
            mailbox.with_user(self.doctor).read(["mcl_password_token"])
        with self.assertRaises(AccessError):
            mailbox.with_user(self.physio).read(["mcl_signed_in_as"])
        mailbox.smtp_host = "127.0.0.1"  # an administrator points the mailbox elsewhere
        self.assertEqual(mailbox.mcl_state, "attention")
        self.assertIn("click “Sign in with Microsoft” again", mailbox.with_user(self.doctor).mcl_diagnosis)
        with self.assertRaises(UserError):
            mailbox._mcl_login_secret(mailbox._mcl_smtp_endpoint(""))

    def test_the_refresh_token_goes_only_to_the_token_url_that_issued_it(self):
        """Once the endpoint in Odoo's settings changes, the refresh token (and the client secret) are sent
        neither there nor anywhere: the owner signs in again at the new one."""
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        self.env["ir.config_parameter"].sudo().set_param("microsoft_outlook.endpoint",
                                                         "https://attacker.invalid/common/oauth2/v2.0/")
        before = self.stack.oauth_stats()["token_refresh"]
        posted = []
        real_post = oauth._post

        def recording_post(url, *args):
            posted.append(url)
            return real_post(url, *args)

        with patch.object(oauth.time, "time", return_value=time.time() + 7200), \
                patch.object(oauth, "_post", recording_post), self.assertRaises(UserError) as refused:
            mailbox._mcl_login_secret(*mailbox._mcl_sealed_endpoints())
        self.assertEqual((posted, self.stack.oauth_stats()["token_refresh"]), ([], before))
        self.assertIn("click “Sign in with Microsoft”", str(refused.exception))


@tagged("post_install", "-at_install")
class TestTokenLife(OAuthCase):
    def test_an_access_token_about_to_expire_is_refreshed_before_connecting(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        first = self.stored_tokens(mailbox)
        stats = self.stack.oauth_stats()
        patient, patient_password = self.new_account()
        with patch.object(oauth.time, "time", return_value=first.expires_at - 60):
            mail = self.send_mail(self.doctor, address, patient)
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        after = self.stack.oauth_stats()
        self.assertEqual(after["token_refresh"], stats["token_refresh"] + 1)
        self.assertEqual(after["xoauth2_smtp_refused"], stats["xoauth2_smtp_refused"], "refreshed before, not after")
        self.assertNotEqual(self.stored_tokens(mailbox).access_token, first.access_token)
        self.assertEqual(len(self.stack.fetch_messages(patient, patient_password)), 1)

    def test_an_access_token_the_server_refuses_is_refreshed_once_and_the_email_leaves(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        self.stack.oauth_expire_access_tokens(address)  # expired at the provider before our clock says so
        patient, patient_password = self.new_account()
        mail = self.send_mail(self.doctor, address, patient)
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        self.assertEqual(mailbox.mcl_state, "connected")
        self.assertEqual(len(self.stack.fetch_messages(patient, patient_password)), 1)

    def test_a_revoked_sign_in_needs_attention_and_the_waiting_email_leaves_after_a_new_sign_in(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        self.stack.oauth_revoke(address)  # consent withdrawn, or the Microsoft password changed
        patient, patient_password = self.new_account()
        mail = self.send_mail(self.doctor, address, patient)
        self.assertEqual(mail.state, "exception")
        mailbox.invalidate_recordset()
        self.assertEqual(mailbox.mcl_state, "attention")
        diagnosis = mailbox.with_user(self.doctor).mcl_diagnosis
        self.assertIn("no longer accepts the sign-in saved for this mailbox", diagnosis)
        self.assertIn("Sign in with Microsoft", diagnosis)
        self.assertIn("AADSTS50173", diagnosis)
        self.assertFalse(mailbox.mcl_problem_passing, "it waits for the owner's new sign-in, it is not retried blindly")

        form = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        self.assertEqual(form.signed_in_as, address)
        self.sign_in(form, self.doctor, address, password)
        self.assertEqual(form.action_test_and_save()["tag"], "display_notification", form.diagnosis)
        self.env["mail.mail"].sudo().process_email_queue()
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        self.assertEqual(len(self.stack.fetch_messages(patient, patient_password)), 1, "once, after the new sign-in")
        self.assertEqual(mailbox.mcl_state, "connected")

    def test_the_identity_server_down_is_a_passing_problem(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        tokens = self.stored_tokens(mailbox)
        self.env["ir.config_parameter"].sudo().set_param("microsoft_outlook.endpoint",
                                                         "https://localhost:9/common/oauth2/v2.0/")
        mailbox._mcl_store_tokens(oauth.Tokens(tokens.access_token, tokens.refresh_token, 0, tokens.account,
                                               "https://localhost:9/common/oauth2/v2.0/token"))
        patient, _patient_password = self.new_account()
        self.send_mail(self.doctor, address, patient)
        self.assertTrue(mailbox.mcl_problem_passing, "retried by itself once Microsoft answers again")
        self.assertIn("Microsoft did not answer", mailbox.with_user(self.doctor).mcl_diagnosis)

    def test_key_rotation_re_encrypts_the_tokens(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        tokens = self.stored_tokens(mailbox)
        new_key, old_keys = vault.generate_key(), configured_keys()
        with patch.dict(config.options, {"mcl_mailbox_keys": f"{new_key},{old_keys}"}):
            report = self.env["mcl.mailbox.mixin"]._mcl_rotate_secrets()
            self.assertGreaterEqual(report["ir.mail_server"]["rotated"], 1)
            self.assertEqual(self.stored_tokens(mailbox), tokens)
        with patch.dict(config.options, {"mcl_mailbox_keys": new_key}):
            self.assertEqual(self.stored_tokens(mailbox), tokens, "opened with the new key alone")


@tagged("post_install", "-at_install")
class TestTokensDoNotLeakOverRpc(OAuthMixin, test_security_leaks.TestLeaksOverRpc):
    """The RPC leak checks of passwords, run on a mailbox signed in with Microsoft."""

    allow_inherited_tests_method = True  # Odoo's runner, unlike pytest, skips inherited tests otherwise

    def connected(self, user):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(user, address, password)
        tokens = self.stored_tokens(mailbox)
        return mailbox, [tokens.access_token, tokens.refresh_token, CLIENT_SECRET, password,
                         *token_forms(mailbox.sudo().mcl_password_token)]


@tagged("post_install", "-at_install")
class TestSignInInTheBrowser(OAuthMixin, InvoiceCase, TourCase):
    def test_sign_in_test_save_and_send_an_invoice_in_the_browser(self):
        password = "mcltestsecret-tour"
        self.stack.add_user(TOUR_ADDRESS, password)
        people = []
        with patch.object(odoo_test_common, "ChromeBrowser",
                          browser_signing_in_at(self.stack, TOUR_ADDRESS, password, people)):
            self.start_tour("/odoo", "mcl_mailbox_sign_in_with_microsoft", login=self.doctor.login,
                            timeout=TOUR_TIMEOUT)
        self.assertTrue(people[0].signed_in.is_set(), "the person signed in on the identity server's page")
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", TOUR_ADDRESS)])
        self.assertEqual((mailbox.owner_user_id, mailbox.mcl_signed_in_as, mailbox.mcl_state),
                         (self.doctor, TOUR_ADDRESS, "connected"))
        self.assertFalse(mailbox.smtp_pass)

        self.doctor.mcl_invoice_template_id = self.template
        invoice = self.make_invoice(self.doctor)
        self.start_tour(f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
                        "mcl_mailbox_send_invoice_from_outlook", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        self.env["mail.mail"].process_email_queue()  # the browser's transaction is the test's: as the cron would
        [received] = self.inbox()
        self.assertEqual(received["From"].addresses[0].addr_spec, TOUR_ADDRESS)
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet")
        self.assertEqual([part.get_filename() for part in received.iter_attachments()],
                         [invoice._get_invoice_report_filename()])
