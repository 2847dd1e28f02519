"""A hostile review of the sign-in by someone who did not write it: the Google path, "Change" of a
signed-in mailbox, the callback, French messages, a shared computer.

Each docstring says whether the attack was a finding of the review (the test failed then; the
"Expected" behaviour is what the add-on does now) or a defence that already held.
"""

import base64
import urllib.parse
from unittest.mock import patch

from lxml import etree

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from ..core import oauth
from ..models.mcl_mailbox_oauth_mixin import CALLBACK_PATH
from .hostile_servers import server_tls_context
from .oauth_common import GoogleMixin, OAuthCase
from .recording_servers import RecordingServer

MODULE = "mcl_mailbox"


def visible(form, css_class=None, field=None):
    """Whether the set-up form's element of ``css_class`` (or its field ``field``) shows for ``form``
    (its own ``invisible`` and its ancestors'), as the web client evaluates it."""
    view = form.env.ref("mcl_mailbox.mcl_mailbox_setup_view_form")
    arch = etree.fromstring(form.get_views([(view.id, "form")])["views"]["form"]["arch"])
    path = f"//field[@name='{field}'][not(@invisible='1')]" if field else \
        f"//*[contains(concat(' ', @class, ' '), ' {css_class} ')]"
    [node] = arch.xpath(path)
    values = {"uid": form.env.uid}
    for name in form.fields_get(attributes=["type"]):
        kind, value = form._fields[name].type, form[name]
        values[name] = value.id if kind == "many2one" else (value.ids if kind.endswith("2many") else value)
    while node is not None:
        expression = node.get("invisible")
        if expression and safe_eval(expression, values):
            return False
        node = node.getparent()
    return True


class AttackHelpers(GoogleMixin):
    """Google set up too, servers that record what they hear, a French user."""

    def traps(self):
        tls = self.stack.layout.tls_dir
        context = server_tls_context(tls / "server.pem", tls / "server.key")
        imap_trap, smtp_trap = RecordingServer("imap", context), RecordingServer("smtp", context)
        self.addCleanup(imap_trap.stop)
        self.addCleanup(smtp_trap.stop)
        return imap_trap, smtp_trap

    @staticmethod
    def heard_token(trap, access_token):
        needles = [access_token, base64.b64encode(f"auth=Bearer {access_token}".encode()).decode()[:20]]
        raw = " ".join(trap.received)
        decoded = []
        for line in trap.received:
            for word in line.split():
                try:
                    decoded.append(base64.b64decode(word + "=" * (-len(word) % 4)).decode("utf-8", "replace"))
                except ValueError:
                    continue
        return any(needle in raw for needle in needles) or any(access_token in text for text in decoded)

    def french_user(self, login):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms([MODULE], ["fr_FR"], overwrite=True)
        return new_test_user(self.env, login, groups="base.group_user,account.group_account_invoice",
                             name="Dr Hélène Roux", email=f"{login}@cabinet.test", lang="fr_FR")


@tagged("post_install", "-at_install")
class TestGooglePathAttacks(AttackHelpers, OAuthCase):
    # ---------------------------------------------------------------- switching provider after sign-in

    def test_switching_provider_after_google_sign_in_saves_google_tokens_on_an_outlook_mailbox(self):
        """Review finding, fixed. Sign in with Google on the Gmail preset, then choose the Outlook preset in the
        form (as the provider field's onchange + save do): the Google tokens are kept, tested and saved on a
        mailbox whose provider is Microsoft. Expected: changing the provider voids the sign-in (or the
        save refuses tokens of another service). Observed: saved; the first refresh then fails with "Sign
        in with Microsoft" although the user has just signed in."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        self.assertEqual(form.signed_in_as, address)
        form.write({"mcl_provider_id": self.outlook.id, "imap_host": "localhost", "imap_port": self.ports["imaps"],
                    "smtp_host": "localhost", "smtp_port": self.ports["submission"], "smtp_encryption": "starttls"})
        form.invalidate_recordset()
        saved = None
        try:
            action = form.action_test_and_save()
            saved = action.get("tag") == "display_notification"
        except UserError:
            saved = False
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        if saved:
            tokens = self.stored_tokens(mailbox)
            self.assertEqual(tokens.token_url, self.stack.oauth_urls()["google_token"])
            with self.assertRaises(UserError) as refused:
                mailbox._mcl_login_secret(*mailbox._mcl_sealed_endpoints(), force_refresh=True)
            self.fail("Google tokens were saved on a Microsoft mailbox; the first refresh says: "
                      f"{refused.exception.args[0]!r}")
        self.assertFalse(form._mcl_token(), "the Google sign-in survived the change of provider")

    def test_switching_to_a_password_provider_after_sign_in_hides_the_password_field(self):
        """Review finding, fixed. Sign in with Google, then pick a provider without sign-in (app password only):
        the form still logs in with XOAUTH2 (the Google token), the sign-in block is hidden (no
        oauth_service) and the password field is hidden too (``signed_in_as``): the user cannot type the
        password the provider asks for; the test sends the Google access token to that provider's servers.
        Expected: the sign-in is voided when the provider changes, the password field shows."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.write({"mcl_provider_id": self.provider.id})
        form.invalidate_recordset()
        self.assertEqual((visible(form, "o_mcl_mailbox_sign_in"), visible(form, field="mcl_password")),
                         (False, True), "neither the sign-in nor a password field: the user is stuck "
                         f"(mechanism {form._mcl_mechanism()!r}, signed in as {form.signed_in_as!r})")

    def test_google_access_token_goes_to_any_server_typed_after_the_sign_in(self):
        """Review finding, fixed. After "Sign in with Google", the form's tokens are sealed to the form alone
        (no endpoints): the user (or anyone who gets them to change the server fields, e.g. by Prefill
        through a domain's published settings) can point IMAP/SMTP at any host, and the test sends
        the Google access token there; once saved, every refresh's fresh token goes there too.
        Expected: a sign-in's tokens are sent only to the servers of its provider (the preset's hosts,
        or at least the hosts set when the sign-in was started)."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        access_token = oauth.Tokens.from_json(form.sudo()._mcl_decrypt_password(*form._endpoints(""))).access_token
        imap_trap, smtp_trap = self.traps()
        manual = self.env.ref("mcl_mailbox.provider_manual")
        form.write({"mcl_provider_id": manual.id, "imap_host": "localhost", "imap_port": imap_trap.port,
                    "imap_encryption": "ssl", "smtp_host": "localhost", "smtp_port": smtp_trap.port,
                    "smtp_encryption": "ssl"})
        with self.assertRaisesRegex(UserError, "app password"):
            form.action_test_and_save()
        self.assertFalse(self.heard_token(imap_trap, access_token) or self.heard_token(smtp_trap, access_token),
                         "the Google access token was sent to a server that is not Google's")

    def test_the_servers_of_a_signed_in_form_cannot_be_changed_for_others(self):
        """Held after the review's fix. Same provider, only the servers typed over after signing in: the test
        refuses before connecting, and says how to put them back."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        imap_trap, smtp_trap = self.traps()
        form.write({"imap_port": imap_trap.port, "smtp_port": smtp_trap.port})
        with self.assertRaisesRegex(UserError, "connects only to the servers of Local Gmail: click Prefill"):
            form.action_test_and_save()
        self.assertEqual((imap_trap.received, smtp_trap.received), ([], []), "no server was even contacted")
        self.assertEqual(form.signed_in_as, address, "the sign-in is kept: Prefill puts the servers back")

    def test_prefill_after_sign_in_keeps_the_sign_in_for_the_same_address(self):
        """Held in review. Prefill again after signing in, same address: the sign-in is kept and the save
        works; the mailbox's tokens are the form's, sealed to the saved servers only."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.action_prefill()
        form.invalidate_recordset()
        self.assertEqual(form.signed_in_as, address)
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        self.assertEqual(self.stored_tokens(mailbox).account, address)
        mailbox.smtp_port = self.ports["submission"]
        with self.assertRaises(UserError):
            mailbox._mcl_login_secret(mailbox._mcl_smtp_endpoint(""))

    def test_sign_in_then_password_then_sign_in_again(self):
        """Held in review. Password typed after the sign-in replaces it; a new sign-in replaces the
        password: the form always has one secret, and the saved mailbox the last one."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.write({"mcl_password": password})
        form.invalidate_recordset()
        self.assertEqual((form._mcl_mechanism(), form.signed_in_as), ("password", False))
        self.sign_in(form, self.doctor, address, password)
        self.assertEqual((form._mcl_mechanism(), form.signed_in_as), ("xoauth2", address))
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        self.assertEqual(mailbox._mcl_mechanism(), "xoauth2")

    def test_after_a_gmail_sign_in_an_app_password_can_still_be_chosen(self):
        """Review finding, fixed. The Gmail preset offers both, but once signed in (on the new form, or on
        "Change" of a signed-in Gmail mailbox) the password field and "Or type an app password below" are
        hidden: the only way back to an app password is to delete the mailbox. Expected: the password field
        stays available for an app_password provider (typing one replaces the sign-in, as the model does)."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.action_test_and_save()
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        change = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        self.assertEqual(change.signed_in_as, address)
        self.assertTrue(visible(change, field="mcl_password"), "no way to switch the Gmail mailbox to an app password")

    def test_a_google_mailbox_is_stuck_once_the_google_app_is_removed(self):
        """Review finding, fixed. A Gmail mailbox signed in with Google; later the administrator removes
        (or mistypes) the Google application. On "Change or sign in again" the owner sees "Sign in with
        Google", which only says "not set up in this Odoo yet", and no password field (hidden by
        signed_in_as), although Gmail takes an app password: the mailbox cannot be fixed by its owner.
        Expected: the app-password field offered whenever the provider takes one."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        self.env["ir.config_parameter"].sudo().set_param("google_gmail_client_id", False)
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        change = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        with self.assertRaisesRegex(UserError, "Gmail Credentials"):
            change.action_mcl_sign_in()
        self.assertTrue(visible(change, field="mcl_password"), "neither a working sign-in nor a password field")

    def test_a_refused_google_token_gets_google_advice_not_outlook_advice(self):
        """Review finding, fixed. A Gmail mailbox signed in with Google whose IMAP refuses the token is told
        "turn IMAP on ... (at Outlook.com: Settings > Mail > Forwarding and IMAP) ... allow IMAP and SMTP AUTH"
        (CREDENTIALS_ADVICE["xoauth2"] is Microsoft's). Expected: advice of the provider signed in with
        (Gmail: Settings > See all settings > Forwarding and POP/IMAP), e.g. the preset's note/steps."""
        address, password = self.new_gmail_account()
        self.stack.oauth_set_user(address, imap_disabled=True)
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.action_test_and_save()
        self.assertIn("Incoming mail (IMAP)", form.diagnosis or "")
        self.assertNotIn("Outlook.com", form.diagnosis)

    def test_a_code_started_for_google_is_not_redeemed_at_microsoft_after_a_provider_change(self):
        """Review finding, fixed. Start "Sign in with Google", change the provider to Outlook in the form (another
        tab, or before the provider's page answers), then come back: the Google code is posted to the
        Microsoft token URL with Microsoft's client secret (the service is read from the form at redemption,
        not from when the sign-in started). Expected: the service of the started sign-in is kept with the
        nonce, and an answer for another service is refused."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        form.write({"mcl_provider_id": self.outlook.id})
        posted = []
        real_post = oauth._post

        def recording_post(url, *args):
            posted.append(url)
            return real_post(url, *args)

        with patch.object(oauth, "_post", recording_post):
            self.come_back(self.doctor, callback)
        self.assertNotIn(self.env["mcl.mailbox.setup"]._mcl_oauth_app("microsoft").token_url, posted,
                         "a Google code was sent to Microsoft with Microsoft's client secret")


@tagged("post_install", "-at_install")
class TestGoogleNotConfigured(OAuthCase):
    """Only the Microsoft application is entered in Odoo's settings."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gmail = cls.local_gmail_preset()

    def test_sign_in_with_google_when_only_microsoft_is_configured(self):
        """Held in review. The Gmail form hides the sign-in, still wants a password, and a forced click
        over RPC is refused with what to ask the administrator (Gmail Credentials), posting nothing."""
        form = self.oauth_form(self.doctor, "dr-x@gmail.test")
        self.assertFalse(form.sign_in_ready)
        self.assertFalse(visible(form, "o_mcl_mailbox_sign_in"))
        self.assertTrue(visible(form, field="mcl_password"))
        with patch.object(oauth, "_post") as post, self.assertRaisesRegex(UserError, "Gmail Credentials"):
            form.action_mcl_sign_in()
        post.assert_not_called()
        with self.assertRaisesRegex(UserError, "app password"):
            form.action_test_and_save()


@tagged("post_install", "-at_install")
class TestChangeAfterSignIn(AttackHelpers, OAuthCase):
    """A signed-in mailbox, opened later with "Change or sign in again"."""

    def setUp(self):
        super().setUp()
        self.address, self.password = self.new_outlook_account()
        self.mailbox = self.connect_outlook(self.doctor, self.address, self.password)

    def change_form(self, user):
        return self.env["mcl.mailbox.setup"].browse(
            self.mailbox.with_user(user).action_mcl_open_setup()["res_id"]).with_user(user)

    def test_changing_the_login_of_a_signed_in_mailbox_asks_to_sign_in_not_for_an_app_password(self):
        """Review finding, fixed. The owner changes the login (or a server) of an Outlook mailbox: the refusal
        says "Type the app password again: the server settings changed" for a provider that takes no
        password and shows no password field. Expected: "Sign in again (click “Sign in with Microsoft”)"."""
        form = self.change_form(self.doctor)
        form.write({"login": "other-login@outlook.test"})
        with self.assertRaises(UserError) as refused:
            form.action_test_and_save()
        self.assertNotIn("app password", refused.exception.args[0])
        self.assertIn("Sign in with Microsoft", refused.exception.args[0])

    def test_changing_the_servers_of_a_signed_in_mailbox_sends_no_token_there(self):
        """Held in review. The owner (then an administrator) points the "Change" form of a signed-in mailbox
        at other servers: the stored tokens do not open for them, nothing reaches the trap."""
        imap_trap, smtp_trap = self.traps()
        tokens = self.stored_tokens(self.mailbox)
        for user in (self.doctor, self.admin):
            form = self.change_form(user)
            form.write({"imap_port": imap_trap.port, "smtp_port": smtp_trap.port, "smtp_encryption": "ssl"})
            with self.assertRaises(UserError):
                form.action_test_and_save()
        for trap in (imap_trap, smtp_trap):
            self.assertFalse(self.heard_token(trap, tokens.access_token))
            self.assertFalse(trap.received, f"{trap.protocol} trap was contacted")

    def test_colleague_and_delegate_cannot_open_change_or_connect(self):
        """Held in review. A colleague and a delegate can neither open the set-up form of the mailbox, nor make
        Odoo log in (connect, test_smtp_connection), nor create a form on it: no refresh, no token use."""
        self.mailbox.sudo().mcl_delegate_user_ids = self.secretary
        before = self.stack.oauth_stats()
        for user in (self.physio, self.secretary):
            with self.assertRaises(AccessError):
                self.change_form(user)
            with self.assertRaises(AccessError):
                self.env["mcl.mailbox.setup"].with_user(user).create({"mail_server_id": self.mailbox.id})
            with self.assertRaises(AccessError):
                self.mailbox.with_user(user).connect(mail_server_id=self.mailbox.id)
            with self.assertRaises(AccessError):
                self.mailbox.with_user(user).test_smtp_connection()
        self.assertEqual(self.stack.oauth_stats()["token_refresh"], before["token_refresh"])

    def test_a_colleague_cannot_send_or_refresh_with_the_doctors_tokens(self):
        """Held in review. A colleague (not a delegate) writes an email From the doctor's signed-in address,
        with an expired access token stored: it does not leave through the mailbox, no refresh happens, no
        XOAUTH2 login is made with the doctor's tokens."""
        tokens = self.stored_tokens(self.mailbox)
        self.mailbox._mcl_store_tokens(oauth.Tokens(tokens.access_token, tokens.refresh_token, 0, tokens.account,
                                                    tokens.token_url))
        before = self.stack.oauth_stats()
        patient, _patient_password = self.new_account()
        self.send_mail(self.physio, self.address, patient)
        after = self.stack.oauth_stats()
        self.assertEqual((after["token_refresh"], after["xoauth2_smtp_ok"]),
                         (before["token_refresh"], before["xoauth2_smtp_ok"]))

    def test_what_a_delegate_sees_of_the_sign_in(self):
        """Held in review (a note). The delegate may read the mailbox record (to send from it) and so reads
        ``mcl_signed_in_as`` (observed: the mailbox's own address, which its display name shows already);
        the tokens and ``mcl_oauth_account`` stay unreadable."""
        self.mailbox.sudo().mcl_delegate_user_ids = self.secretary
        as_delegate = self.mailbox.with_user(self.secretary)
        try:
            seen = as_delegate.read(["mcl_signed_in_as"])[0]["mcl_signed_in_as"]
        except AccessError:
            seen = None
        self.assertIn(seen, (None, False, self.address))
        with self.assertRaises(AccessError):
            as_delegate.read(["mcl_password_token"])
        with self.assertRaises(AccessError):
            as_delegate.read(["mcl_oauth_account"])

    def test_admin_change_without_edit_keeps_the_owners_sign_in(self):
        """Held in review. An administrator opens "Change" and saves as is: tested with the stored tokens
        (for the saved servers), re-sealed to the mailbox and its owner; the owner's sends still work."""
        form = self.change_form(self.admin)
        self.assertEqual(form.signed_in_as, self.address)
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        self.mailbox.invalidate_recordset()
        self.assertEqual(self.mailbox._mcl_mechanism(), "xoauth2")
        self.assertEqual(self.stored_tokens(self.mailbox).account, self.address)
        self.assertEqual(self.mailbox.owner_user_id, self.doctor)

    def test_owners_new_sign_in_on_change_cannot_take_another_address(self):
        """Held in review. On "Change", the owner signs in as another account: refused, the mailbox keeps its
        tokens."""
        other, other_password = self.new_outlook_account()
        form = self.change_form(self.doctor)
        self.sign_in(form, self.doctor, other, other_password)
        self.assertIn(other, form.diagnosis)
        self.assertFalse(form._mcl_token())
        self.assertEqual(self.stored_tokens(self.mailbox).account, self.address)


@tagged("post_install", "-at_install")
class TestCallbackAttacks(AttackHelpers, OAuthCase):
    def callback_url(self, **params):
        return f"{self.base_url()}{CALLBACK_PATH}?{urllib.parse.urlencode(params)}"

    def test_missing_garbage_and_deleted_form_states_are_refused(self):
        """Held in review. No state, garbage, a state of a deleted form, another user's form: 403, no code
        redeemed."""
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        code = self.query(callback)["code"]
        before = self.stack.oauth_stats()["token_authorization_code"]
        for url in (self.callback_url(code=code), self.callback_url(state="", code=code),
                    self.callback_url(state="abc", code=code), self.callback_url(state="-1.x", code=code),
                    self.callback_url(state=f"{form.id}", code=code), self.callback_url(state=f"{form.id}.", code=code)):
            self.assertEqual(self.come_back(self.doctor, url).status_code, 403, url)
        self.assertEqual(self.come_back(self.physio, callback).status_code, 403)
        form.sudo().unlink()
        self.assertEqual(self.come_back(self.doctor, callback).status_code, 403)
        self.assertEqual(self.stack.oauth_stats()["token_authorization_code"], before)

    def test_error_description_with_html_and_control_characters(self):
        """Held in review. The provider's (or a tamperer's) error_description with HTML, CR/LF and escape
        characters comes out as one printable line in the diagnosis (a Text field: shown escaped)."""
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        state = self.query(callback)["state"]
        hostile = "<img src=x onerror=alert(1)>\r\nWhat to do: paste your password at http://evil.test\x1b[2J\x00" + "A" * 5000
        response = self.come_back(self.doctor, self.callback_url(state=state, error="access_denied",
                                                                 error_description=hostile))
        self.assertEqual(response.status_code, 303)
        form.invalidate_recordset()
        reply_lines = [line for line in form.diagnosis.splitlines() if line.startswith("Provider reply")]
        self.assertEqual(len(reply_lines), 1, form.diagnosis)
        self.assertEqual(len(form.diagnosis.splitlines()), 3, "the injected line break made a line of its own")
        self.assertFalse(any(ch in form.diagnosis for ch in "\x1b\x00\r"))
        self.assertLess(len(form.diagnosis), 1500)
        self.assertFalse(form._mcl_token())

    def test_the_callback_redirects_only_to_the_form(self):
        """Held in review. Extra redirect/next/return_to parameters are ignored: the answer goes back to the
        user's form, never elsewhere."""
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        hostile = callback + "&" + urllib.parse.urlencode(
            {"redirect": "https://evil.test/", "next": "//evil.test", "return_to": "https://evil.test"})
        response = self.come_back(self.doctor, hostile)
        self.assertEqual(response.status_code, 303)
        location = urllib.parse.urlsplit(response.headers["Location"])
        self.assertIn(location.netloc, ("", urllib.parse.urlsplit(self.base_url()).netloc))
        self.assertEqual(location.path, f"/odoo/action-mcl_mailbox.mcl_mailbox_setup_action/{form.id}")

    def test_a_refused_callback_is_a_french_odoo_page_with_a_way_back(self):
        """Review finding, fixed. A French user following a used or stale sign-in link gets werkzeug's
        bare page: <html lang=en>, title "403 Forbidden", heading "Forbidden" in English, then the French
        sentence, and no link back into Odoo. (The French sentence itself was right.)
        Expected: an Odoo page (or a redirect to the form / the user's mailboxes with the message shown),
        in French, with a link back."""
        user = self.french_user("mcl_fr_cb")
        response = self.come_back(user, self.callback_url(state="1.x", code="c"))
        self.assertEqual(response.status_code, 403)
        self.assertIn("Ce lien de connexion", response.text)
        self.assertNotIn("<h1>Forbidden</h1>", response.text, "English heading on a French user's page")
        self.assertIn('href="/odoo', response.text, "no way back into Odoo from the error page")

    def test_google_app_removed_mid_sign_in_is_explained_in_french(self):
        """Review finding, fixed. A French user's Google sign-in comes back after the administrator removed
        Google's application (or a refresh runs then): the diagnosis carries the English internal text
        "no application is configured in Odoo's settings" presented as the provider's reply ("Réponse du
        fournisseur"), although no provider answered. Expected: French only, no false "provider reply"."""
        user = self.french_user("mcl_fr_google")
        address, password = self.new_gmail_account()
        form = self.oauth_form(user, address)
        callback = self.authorize(form, address, password)
        self.env["ir.config_parameter"].sudo().set_param("google_gmail_client_id", False)
        self.come_back(user, callback)
        form.invalidate_recordset()
        diagnosis = form.with_context(lang="fr_FR").diagnosis
        self.assertTrue(diagnosis)
        self.assertNotIn("no application is configured", diagnosis)

    def test_oauth_failure_on_an_outlook_form_does_not_ask_for_the_app_password(self):
        """Review finding, fixed. After a declined Microsoft consent, the red box's second paragraph tells a
        French user "Corrigez ce qui est indiqué ci-dessus, collez de nouveau le mot de passe d'application"
        for a provider that takes no password (Outlook: no password field). Expected: for an oauth provider
        (or a form signed in), "sign in again" instead."""
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password, decision="decline")
        self.assertTrue(form.diagnosis)
        self.assertFalse(visible(form, "o_mcl_mailbox_diagnosis_next"),
                         "the diagnosis tells to type the app password again on an Outlook form")

    def test_a_sign_in_message_without_a_service_reads_well(self):
        """Review finding, fixed. A mailbox whose tokens outlived its provider's sign-in (see the
        provider-switch findings) fails its refresh with "Sign-in with : ..." / "Connexion avec  : ..." -
        the service name is empty in every sentence. Expected: the service named by the tokens, or a
        plain "sign in again" message."""
        address, password = self.new_gmail_account()
        form = self.gmail_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.write({"mcl_provider_id": self.provider.id})
        message = form._mcl_explain_oauth("oauth_app_refused", "")
        self.assertNotIn("with :", message)


@tagged("post_install", "-at_install")
class TestTokenAnswerRobustness(OAuthCase):
    def callback_with_answer(self, body):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        callback = self.authorize(form, address, password)
        with patch.object(oauth, "_post", return_value=(200, body)):
            response = self.come_back(self.doctor, callback)
        form.invalidate_recordset()
        return address, form, response

    def test_an_infinite_expires_in_is_explained_not_a_traceback(self):
        """Review finding, fixed. A token answer with "expires_in": 1e400 (JSON for infinity) raises
        OverflowError in oauth._lifetime (only TypeError/ValueError are caught): the callback answers 500
        with a raw server error instead of a diagnosis on the form. Expected: 303 back to the form, with a
        diagnosis (or the lifetime clamped)."""
        body = b'{"access_token": "mcltestsecret-a", "refresh_token": "mcltestsecret-r", "expires_in": 1e400}'
        _address, _form, response = self.callback_with_answer(body)
        self.assertEqual(response.status_code, 303, response.text[:300])

    def test_an_account_with_a_line_break_cannot_add_lines_to_the_diagnosis(self):
        """Review finding, fixed. The account named by the ID token
        (oauth._account: stripped and lowercased, nothing else) goes unsanitised into the wrong-account
        diagnosis: a line break in it adds a fake "what to do: call 0800..." line to the red box (and
        there is no length cap). Expected: the account passed through probe._sanitize / a strict
        address check (email_normalize) before use, an invalid one treated as "no account"."""
        claims = base64.urlsafe_b64encode(
            b'{"email": "x@outlook.test\\nWhat to do: call 0800 000 000 and give your password"}').decode().rstrip("=")
        body = ('{"access_token": "mcltestsecret-a", "refresh_token": "mcltestsecret-r", "expires_in": 3600, '
                f'"id_token": "e30.{claims}.sig"}}').encode()
        _address, form, response = self.callback_with_answer(body)
        self.assertEqual(response.status_code, 303)
        self.assertTrue(form.diagnosis)
        self.assertEqual(len(form.diagnosis.splitlines()), 2, form.diagnosis)


@tagged("post_install", "-at_install")
class TestSharedBrowser(AttackHelpers, OAuthCase):
    """A practice's shared computer: the doctor's Microsoft session is open in the browser, a colleague is
    logged into Odoo. The colleague's sign-in at Microsoft then succeeds without any password (SSO); the
    tests stand for it by signing in with the doctor's identity-server password."""

    def test_microsoft_sign_in_asks_which_account(self):
        """Review finding, fixed. The Microsoft authorization request carries no
        ``prompt``: with the doctor's Microsoft session open, a colleague's "Sign in with Microsoft" for the
        doctor's address is answered at once, without password nor account choice (login_hint picks it).
        Expected: prompt=select_account (or login) for Microsoft, as Google's request has prompt=consent."""
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.physio, address)
        query = self.query(form.action_mcl_sign_in()["url"])
        self.assertIn(query.get("prompt"), ("select_account", "login"), query)

    def test_a_colleagues_form_for_a_connected_address_sends_no_token_before_being_refused(self):
        """Review finding, fixed. A colleague's new form for the doctor's already connected
        address, signed in through the doctor's session, pointed at the colleague's servers: the test runs
        (sending the doctor's access token there) and only the save says "already connected as another
        mailbox". Expected: _check_ready refuses an address taken by another mailbox before any
        connection; and a sign-in's tokens only go to the provider's servers (see
        test_google_access_token_goes_to_any_server_typed_after_the_sign_in)."""
        address, password = self.new_outlook_account()
        self.connect_outlook(self.doctor, address, password)
        form = self.oauth_form(self.physio, address)
        self.sign_in(form, self.physio, address, password)  # the doctor's SSO session answers for them
        access_token = oauth.Tokens.from_json(form.sudo()._mcl_decrypt_password(*form._endpoints(""))).access_token
        imap_trap, smtp_trap = self.traps()
        form.write({"mcl_provider_id": self.env.ref("mcl_mailbox.provider_manual").id,
                    "imap_port": imap_trap.port, "smtp_port": smtp_trap.port, "smtp_encryption": "ssl"})
        with self.assertRaises(UserError):
            form.action_test_and_save()
        self.assertFalse(self.heard_token(imap_trap, access_token) or self.heard_token(smtp_trap, access_token),
                         "the doctor's access token reached the colleague's server")
