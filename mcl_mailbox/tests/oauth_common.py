"""Sign-in with Microsoft (and Google) against the local identity server of the mail stack (scripts/mailstack)."""

import base64
import hashlib
import json
import logging
import threading
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from odoo.tests import HttpCase
from odoo.tests import common as odoo_test_common

from ..core import redact
from ..models.mcl_mailbox_oauth_mixin import CALLBACK_PATH
from .common import SECRET_MARKER, MailboxCase

_logger = logging.getLogger(__name__)

OAUTH_DOMAIN = "outlook.test"
CLIENT_ID = "mcl-odoo-practice"
CLIENT_SECRET = f"{SECRET_MARKER}-client-secret"
GOOGLE_CLIENT_ID = "mcl-odoo-google"


class OAuthMixin:
    """Odoo's Outlook application registered at the local identity server, and an Outlook-like preset
    (for a MailboxCase that is an HttpCase: the provider's answer comes back over HTTP)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("web.base.url", cls.base_url())
        params.set_param("microsoft_outlook_client_id", CLIENT_ID)
        params.set_param("microsoft_outlook_client_secret", CLIENT_SECRET)
        params.set_param("microsoft_outlook.endpoint", cls.stack.oauth_urls()["microsoft_endpoint"])
        cls.stack.oauth_register_client(CLIENT_ID, CLIENT_SECRET, cls.base_url() + CALLBACK_PATH)
        cls.outlook = cls.env["mcl.mailbox.provider"].create({
            "name": "Local Outlook",
            "code": "local_outlook",
            "domains": OAUTH_DOMAIN,
            "imap_host": "localhost",
            "imap_port": cls.ports["imaps"],
            "imap_encryption": "ssl",
            "smtp_host": "localhost",
            "smtp_port": cls.ports["submission"],
            "smtp_encryption": "starttls",
            "auth_kind": "oauth",
            "oauth_service": "microsoft",
        })

    @classmethod
    def new_outlook_account(cls):
        """A fresh Outlook-like account on the stack: (address, password at the identity server)."""
        token = uuid.uuid4().hex[:10]
        address, password = f"dr-{token}@{OAUTH_DOMAIN}", f"{SECRET_MARKER}{token}"
        cls.stack.add_user(address, password)
        return address, password

    def oauth_form(self, user, address, **values):
        form = self.env["mcl.mailbox.setup"].with_user(user).create(
            {"terms_accepted": True, "name": "Cabinet Outlook", "email": address})
        form.action_prefill()
        form.write(values)
        return form

    def authorize(self, form, login, password, decision="accept"):
        """Click "Sign in with Microsoft" and sign in at the identity server: the callback URL it sends
        the browser back to."""
        action = form.action_mcl_sign_in()
        self.assertEqual(action["type"], "ir.actions.act_url")
        return self.stack.oauth_sign_in(action["url"], login, password, decision)

    def come_back(self, user, callback_url):
        """The browser of ``user`` follows the identity server's redirect: the response (not followed)."""
        self.authenticate(user.login, user.login)
        return self.url_open(callback_url, allow_redirects=False)

    def sign_in(self, form, user, login, password, decision="accept"):
        response = self.come_back(user, self.authorize(form, login, password, decision))
        self.assertEqual(response.status_code, 303, response.text[:500])
        form.invalidate_recordset()
        return response

    def connect_outlook(self, user, address, password):
        form = self.oauth_form(user, address)
        self.sign_in(form, user, address, password)
        action = form.action_test_and_save()
        self.assertEqual(action.get("tag"), "display_notification", form.diagnosis)
        return self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])

    @staticmethod
    def stored_tokens(mailbox):
        return mailbox.sudo()._mcl_oauth_tokens(*mailbox._mcl_sealed_endpoints())

    @staticmethod
    def query(url):
        return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class GoogleMixin:
    """Google's application configured too, and a Gmail-like preset on the local stack."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("google_gmail_client_id", GOOGLE_CLIENT_ID)
        params.set_param("google_gmail_client_secret", CLIENT_SECRET)
        params.set_param("mcl_mailbox.google_authorize_url", cls.stack.oauth_urls()["google_authorize"])
        params.set_param("mcl_mailbox.google_token_url", cls.stack.oauth_urls()["google_token"])
        cls.stack.oauth_register_client(GOOGLE_CLIENT_ID, CLIENT_SECRET, cls.base_url() + CALLBACK_PATH)
        cls.gmail = cls.local_gmail_preset()

    def new_gmail_account(self):
        address, password = f"dr-{uuid.uuid4().hex[:10]}@gmail.test", f"{SECRET_MARKER}{uuid.uuid4().hex[:10]}"
        self.stack.add_user(address, password)
        return address, password

    def gmail_form(self, user, address, **values):
        return self.oauth_form(user, address, **values)  # Prefill picks Local Gmail from gmail.test


class OAuthCase(OAuthMixin, MailboxCase, HttpCase):
    """A MailboxCase with the sign-in set up."""

    @classmethod
    def local_gmail_preset(cls):
        """A Gmail-like preset on the local stack: an app password, or "Sign in with Google"."""
        return cls.env["mcl.mailbox.provider"].create({
            "name": "Local Gmail", "code": "local_gmail", "domains": "gmail.test",
            "imap_host": "localhost", "imap_port": cls.ports["imaps"], "imap_encryption": "ssl",
            "smtp_host": "localhost", "smtp_port": cls.ports["smtps"], "smtp_encryption": "ssl",
            "auth_kind": "app_password", "oauth_service": "google",
        })


def spki_pin(certificate_path):
    """Chrome's pin of a certificate's public key: base64 of the SHA-256 of its SubjectPublicKeyInfo."""
    certificate = x509.load_pem_x509_certificate(Path(certificate_path).read_bytes())
    info = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(info).digest()).decode()


class IdentityServerUser(threading.Thread):
    """The person at the browser while a tour runs: on the identity server's sign-in page (another
    origin, where no tour runs), they type their login and password and click Accept.

    Works through Chrome's DevTools protocol, as the tour's own steps do."""

    def __init__(self, browser, origin, login, password):
        super().__init__(daemon=True)
        self.browser, self.origin, self.login, self.password = browser, origin, login, password
        self.signed_in = threading.Event()
        self.stopped = threading.Event()

    def evaluate(self, expression):
        answer = self.browser._websocket_request(
            "Runtime.evaluate", params={"expression": expression, "returnByValue": True}, timeout=5)
        return (answer or {}).get("result", {}).get("value")

    def run(self):
        while not self.stopped.wait(0.3):
            try:
                on_sign_in_page = self.evaluate(
                    f"location.href.startsWith({json.dumps(self.origin)}) && !!document.getElementById('mcl-idp-accept')")
                if on_sign_in_page:
                    self.evaluate(f"""
                        document.getElementById('mcl-idp-login').value = {json.dumps(self.login)};
                        document.getElementById('mcl-idp-password').value = {json.dumps(self.password)};
                        document.getElementById('mcl-idp-accept').click();""")
                    self.signed_in.set()
                    return
            except (TimeoutError, odoo_test_common.ChromeBrowserException) as error:
                _logger.debug("the page is navigating (%s): looking again", error)


class MaskTyped(logging.Filter):
    """Masks, in the test browser's DevTools log (DEBUG), what the person types at the identity server."""

    def __init__(self, typed):
        super().__init__()
        self.typed = typed

    def filter(self, record):
        message = record.getMessage()
        if self.typed in message:
            record.msg, record.args = message.replace(self.typed, redact.MASK), None
        return True


def browser_signing_in_at(stack, login, password, users):
    """A ChromeBrowser class for HttpCase.browser_js that trusts the identity server's certificate
    (pinned, nothing else) and whose user signs in there as ``login``; each browser is put in ``users``."""
    pin = spki_pin(stack.layout.tls_dir / "server.pem")
    origin = stack.oauth_urls()["microsoft_endpoint"].split("/common/")[0]

    class Browser(odoo_test_common.ChromeBrowser):
        def _handle_request_paused(self, **params):
            """The test browser answers 404 for anything but Odoo: the identity server is let through."""
            if params["request"]["url"].startswith(f"{origin}/"):
                self._websocket_send("Fetch.continueRequest", params={"requestId": params["requestId"]})
                return
            super()._handle_request_paused(**params)

        def _spawn_chrome(self, cmd):
            return super()._spawn_chrome([*cmd[:-1], f"--ignore-certificate-errors-spki-list={pin}", cmd[-1]])

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # The DevTools frames are logged: the sign-in's code comes back in a URL, the password is typed.
            self._logger.addFilter(redact.RedactCallbackQuery())
            self._logger.addFilter(MaskTyped(password))
            user = IdentityServerUser(self, origin, login, password)
            users.append(user)
            user.start()

        def stop(self):
            for user in users:
                user.stopped.set()
            return super().stop()

    return Browser
