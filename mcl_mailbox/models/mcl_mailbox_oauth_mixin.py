import logging
from dataclasses import dataclass

from werkzeug.urls import url_join

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core import oauth, vault
from ..diagnoses import DIAGNOSES, UNKNOWN

_logger = logging.getLogger(__name__)

CALLBACK_PATH = "/mcl_mailbox/oauth/callback"
# Odoo's documentation of the application settings an administrator enters once.
SETUP_DOCS = {
    "microsoft": "https://www.odoo.com/documentation/18.0/applications/general/email_communication/azure_oauth.html",
    "google": "https://www.odoo.com/documentation/18.0/applications/general/email_communication/google_oauth.html",
}
SERVICE_NAMES = {"microsoft": "Microsoft", "google": "Google"}


@dataclass(frozen=True)
class App:
    """The application an administrator registered at the provider, and the provider's URLs."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str


class McLMailboxOAuthMixin(models.AbstractModel):
    """Sign-in with Microsoft or Google instead of a password.

    The tokens are the mailbox's secret: sealed by the vault like a password (same keys, same
    binding, same rotation, never readable), opened only for the endpoints they were saved for.
    ``mcl_oauth_account`` says the secret is tokens, and for which account.
    """

    _name = "mcl.mailbox.oauth.mixin"
    _inherit = ["mcl.mailbox.mixin"]
    _description = "Mailbox Sign-in with Microsoft or Google"

    # Written only with the tokens it names: who could set it could have a typed password taken for tokens.
    mcl_oauth_account = fields.Char(string="Signed-in account", groups=fields.NO_ACCESS, copy=False)
    mcl_signed_in_as = fields.Char(string="Signed in as", compute="_compute_mcl_signed_in_as",
                                   help="The account whose sign-in this mailbox uses instead of a password.")

    @api.depends("mcl_oauth_account")
    def _compute_mcl_signed_in_as(self):
        for record in self:
            record.mcl_signed_in_as = record._mcl_oauth_account()

    def _mcl_oauth_account(self):
        """The signed-in account, read alone (as the token is: see ``_mcl_token``)."""
        self.ensure_one()
        return self.sudo().with_context(prefetch_fields=False).mcl_oauth_account

    def _inverse_mcl_password(self):
        """A typed password replaces the sign-in."""
        typed = self.filtered(lambda record: vault.clean_app_password(record.mcl_password))
        typed.sudo().mcl_oauth_account = False  # first: the password is sealed as a password's binding says
        return super()._inverse_mcl_password()

    def _mcl_mechanism(self):
        """How this record logs in: 'xoauth2' with tokens, else 'password'."""
        self.ensure_one()
        return "xoauth2" if self._mcl_oauth_account() else "password"

    def _mcl_server_changed(self):
        if self._mcl_oauth_account():
            return self.env._("The server settings changed since you signed in: click “Sign in with %s” again.",
                              SERVICE_NAMES.get(self._mcl_oauth_service()) or "Microsoft")
        return super()._mcl_server_changed()

    def _mcl_credentials_kind(self):
        if self._mcl_mechanism() == "xoauth2":
            return f"xoauth2_{self._mcl_oauth_service() or 'microsoft'}"
        return super()._mcl_credentials_kind()

    def _mcl_login_secret(self, *endpoints, force_refresh=False):
        """An access token valid for a few minutes at least, refreshed first if need be (or if the
        server refused it: ``force_refresh``)."""
        if self._mcl_mechanism() != "xoauth2":
            return super()._mcl_login_secret(*endpoints)
        tokens = self._mcl_oauth_tokens(*endpoints)
        if force_refresh or tokens.needs_refresh():
            tokens = self._mcl_refresh(tokens)
        return tokens.access_token

    def _mcl_oauth_tokens(self, *endpoints):
        """The stored tokens, opened for ``endpoints`` as a password is (same checks)."""
        try:
            return oauth.Tokens.from_json(self._mcl_decrypt_password(*endpoints))
        except oauth.OAuthError as error:
            raise self._mcl_oauth_failure(error) from None

    def _mcl_store_tokens(self, tokens):
        """Seal ``tokens`` for this record as it is now; they replace any password."""
        self.ensure_one()
        self.sudo().write({"mcl_oauth_account": tokens.account})
        self.sudo().mcl_password_token = self._mcl_seal(tokens.to_json())

    def _mcl_refresh(self, tokens):
        """New tokens from the refresh token, stored at once; a refusal explains what to do."""
        service = self._mcl_oauth_service()
        app = self._mcl_oauth_app(service)
        try:
            if not app:
                raise oauth.OAuthError("oauth_app_refused", "")
            if tokens.token_url != app.token_url:  # the identity server in Odoo's settings changed
                raise oauth.OAuthError("oauth_grant_refused", "")
            fresh = oauth.refresh(service, tokens, (app.client_id, app.client_secret), self._mcl_ssl_context(),
                                  self._mcl_timeout())
        except oauth.OAuthError as error:
            raise self._mcl_oauth_failure(error) from None
        self._mcl_store_tokens(fresh)
        _logger.info("%s #%s: access token refreshed, valid until %s", self._name, self.id, fresh.expires_at)
        return fresh

    def _mcl_oauth_failure(self, error):
        """The UserError telling the user why the sign-in failed and what to do; ``mcl_passing`` says
        whether it should go away by itself."""
        failure = UserError(self._mcl_explain_oauth(error.code, error.reply, **error.params))
        failure.mcl_passing = error.passing
        return failure

    def _mcl_explain_oauth(self, code, reply, **params):
        """A sign-in problem in plain words: the cause, what to do, the provider's reply."""
        service = SERVICE_NAMES.get(self._mcl_oauth_service()) or self.env._("the provider")
        params = dict(params, service=service)
        cause, advice = (self.env._(text) % params for text in DIAGNOSES.get(code, UNKNOWN))
        lines = [self.env._("Sign-in with %(service)s: %(cause)s", service=service, cause=cause),
                 self.env._("What to do: %s", advice)]
        if reply:
            lines.append(self.env._("Provider reply: %s", reply))
        return "\n".join(lines)

    def _mcl_oauth_service(self):
        """'microsoft' or 'google': whom this record signs in with."""
        return self.mcl_provider_id.oauth_service

    @api.model
    def _mcl_oauth_app(self, service):
        """The application configured in Odoo's settings for ``service``, or None."""
        params = self.env["ir.config_parameter"].sudo()
        if service == "microsoft":
            client = params.get_param("microsoft_outlook_client_id"), params.get_param("microsoft_outlook_client_secret")
            endpoint = params.get_param("microsoft_outlook.endpoint",
                                        "https://login.microsoftonline.com/common/oauth2/v2.0/")
            urls = url_join(endpoint, "authorize"), url_join(endpoint, "token")
        elif service == "google":
            client = params.get_param("google_gmail_client_id"), params.get_param("google_gmail_client_secret")
            urls = (params.get_param("mcl_mailbox.google_authorize_url", "https://accounts.google.com/o/oauth2/v2/auth"),
                    params.get_param("mcl_mailbox.google_token_url", "https://oauth2.googleapis.com/token"))
        else:
            return None
        return App(*client, *urls) if all(client) else None

    @api.model
    def _mcl_oauth_redirect_uri(self):
        """The add-on's own callback, to register with the application."""
        return url_join(self.get_base_url(), CALLBACK_PATH)
