import dataclasses
import datetime
import os
import re
import secrets

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config, email_normalize

from ..core import oauth, probe
from ..models.ir_mail_server import ENCRYPTION_SELECTION, TERMS_VERSION
from ..models.mcl_mailbox_oauth_mixin import SERVICE_NAMES, SETUP_DOCS

HOST_PATTERN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# RFC 5321 limits: a whole address, and the part before the @.
ADDRESS_MAX = 254
LOCAL_PART_MAX = 64
PRIVATE_HOSTS_OPTION = "mcl_mailbox_allow_private_hosts"
PRIVATE_HOSTS_ENVIRON = "MCL_MAILBOX_ALLOW_PRIVATE_HOSTS"
SIGN_IN_MINUTES = 10  # how long a sign-in started from the form may take


def private_hosts_allowed():
    """Whether odoo.conf (else the environment) lets every user test servers on loopback or private
    addresses: local tests and demos only."""
    value = config.get(PRIVATE_HOSTS_OPTION)
    if value is None:
        value = os.environ.get(PRIVATE_HOSTS_ENVIRON, "")
    return str(value).strip().lower() in ("1", "true", "yes")


class McLMailboxSetup(models.TransientModel):
    """Add a mailbox, or change one, and save it only once both sides connect.

    The password typed here is encrypted as soon as the form is saved; it is
    cleared after a failed test so that the user types it again.
    """

    _name = "mcl.mailbox.setup"
    _inherit = ["mcl.mailbox.oauth.mixin"]
    _description = "Connect a Mailbox"

    mail_server_id = fields.Many2one("ir.mail_server", string="Mailbox", readonly=True)
    terms_accepted = fields.Boolean(string="I have read and accept the terms of use")
    name = fields.Char(string="Label of your mailbox")
    email = fields.Char(string="Email address")
    login = fields.Char(help="Usually the full address; Prefill sets what the provider expects.")
    imap_host = fields.Char(string="IMAP server")
    imap_port = fields.Integer(string="IMAP port", default=993)
    imap_encryption = fields.Selection(ENCRYPTION_SELECTION, string="IMAP security", default="ssl")
    smtp_host = fields.Char(string="SMTP server")
    smtp_port = fields.Integer(string="SMTP port", default=465)
    smtp_encryption = fields.Selection(ENCRYPTION_SELECTION, string="SMTP security", default="ssl")
    signature = fields.Html()
    delegate_user_ids = fields.Many2many(
        "res.users",
        string="Colleagues who may send from it",
        domain="[('share', '=', False), ('id', '!=', uid)]",
        help="Their invoices and messages leave from this mailbox, with your signature. "
        "They can neither change it nor see its password.",
    )
    provider_note = fields.Text(related="mcl_provider_id.note")
    provider_steps = fields.Html(related="mcl_provider_id.setup_steps")
    provider_password_url = fields.Char(related="mcl_provider_id.password_url")
    provider_help_url = fields.Char(related="mcl_provider_id.help_url")
    provider_auth_kind = fields.Selection(related="mcl_provider_id.auth_kind")
    provider_oauth_service = fields.Selection(related="mcl_provider_id.oauth_service")
    sign_in_ready = fields.Boolean(string="Sign-in available", compute="_compute_sign_in",
                                   help="An administrator has entered the provider's application in Odoo's settings.")
    sign_in_label = fields.Char(string="Sign-in button", compute="_compute_sign_in")
    signed_in_as = fields.Char(string="Signed in with", compute="_compute_signed_in_as")
    back_from_sign_in = fields.Boolean(string="Back from the sign-in", readonly=True,
                                       help="The form is open in the page the provider's sign-in came back to, "
                                            "not in a dialog.")
    mcl_oauth_nonce = fields.Char(string="Sign-in in progress", groups=fields.NO_ACCESS, copy=False)
    mcl_oauth_started = fields.Datetime(string="Sign-in started on", groups=fields.NO_ACCESS, copy=False)
    diagnosis = fields.Text(string="Why the test failed", readonly=True)
    is_admin = fields.Boolean(compute="_compute_is_admin")

    @api.depends("mcl_provider_id")
    def _compute_sign_in(self):
        for form in self:
            service = form.mcl_provider_id.oauth_service
            form.sign_in_ready = bool(service and form._mcl_oauth_app(service))
            form.sign_in_label = self.env._("Sign in with %s", SERVICE_NAMES[service]) if service else False

    @api.depends("mcl_signed_in_as", "mcl_password_token", "mail_server_id")
    def _compute_signed_in_as(self):
        for form in self:
            form.signed_in_as = form.mcl_signed_in_as if form._mcl_token() else (
                form.mail_server_id.mcl_signed_in_as or False)

    def _compute_is_admin(self):
        self.is_admin = self.env.user.has_group("base.group_system")

    @api.constrains("mail_server_id")
    def _check_mail_server_id(self):
        """A form may refer only to a mailbox its user may change: it would otherwise test, and save,
        someone else's mailbox with its stored password."""
        for form in self:
            mailbox = form.mail_server_id
            if mailbox and not (mailbox.sudo().owner_user_id and mailbox._mcl_may_be_changed_by(self.env.user)):
                raise AccessError(_("Only the owner of a mailbox can change it."))

    def _mcl_sealed_holder(self):
        return self.create_uid.id

    def _mcl_sealed_endpoints(self):
        """A password typed here goes to the servers its author types; a sign-in's tokens only to the
        servers the form had when the sign-in came back."""
        return list(self._endpoints("")) if self._mcl_oauth_account() else []

    def write(self, vals):
        """Another provider voids the sign-in made with the previous one (and one under way)."""
        moved = self.filtered(lambda form: "mcl_provider_id" in vals
                              and form.mcl_provider_id.id != vals["mcl_provider_id"])
        result = super().write(vals)
        moved._mcl_forget_sign_in()
        return result

    def _mcl_forget_sign_in(self):
        for form in self.sudo():
            values = {"mcl_oauth_nonce": False, "mcl_oauth_started": False}
            if form._mcl_oauth_account():
                values.update(mcl_oauth_account=False, mcl_password_token=False)
            form.write(values)

    def _mcl_mechanism(self):
        """The form's own secret decides; without one, the mailbox's stored one is tested."""
        if self._mcl_token() or not self.mail_server_id:
            return super()._mcl_mechanism()
        return self.mail_server_id._mcl_mechanism()

    def _mcl_may_reveal(self, user):
        return self.create_uid == user

    @api.onchange("mcl_provider_id")
    def _onchange_mcl_provider_id(self):
        self._apply_provider(self.mcl_provider_id)

    @api.onchange("email")
    def _onchange_email(self):
        """The login follows the address in the form the chosen provider expects."""
        email = email_normalize(self.email or "")
        if email and self.mcl_provider_id:
            self.login = self.mcl_provider_id._login_for(email)

    @api.onchange("smtp_encryption", "imap_encryption")
    def _onchange_encryption_none(self):
        if "none" in (self.smtp_encryption, self.imap_encryption) and not self.is_admin:
            self.smtp_encryption = self.smtp_encryption if self.smtp_encryption != "none" else "ssl"
            self.imap_encryption = self.imap_encryption if self.imap_encryption != "none" else "ssl"
            return {"warning": {
                "title": _("Encryption required"),
                "message": _("Only an administrator can choose a connection without encryption."),
            }}

    # ------------------------------------------------------------------
    # Opening
    # ------------------------------------------------------------------

    @api.model
    def _action_open(self, mailbox):
        """Create the set-up form, filled from ``mailbox`` when given, and open it (``_check_mail_server_id``
        refuses a mailbox its user may not change)."""
        if mailbox:
            mailbox.check_access("read")
        return self.create(self._values_from_mailbox(mailbox) if mailbox else {})._reopen()

    @api.model
    def _values_from_mailbox(self, mailbox):
        return {
            "mail_server_id": mailbox.id,
            "terms_accepted": mailbox.mcl_consent_version == TERMS_VERSION,
            "name": mailbox.name,
            "email": mailbox.mcl_email,
            "login": mailbox.mcl_login,
            "mcl_provider_id": mailbox.mcl_provider_id.id,
            "imap_host": mailbox.mcl_imap_host,
            "imap_port": mailbox.mcl_imap_port,
            "imap_encryption": mailbox.mcl_imap_encryption,
            "smtp_host": mailbox.smtp_host,
            "smtp_port": mailbox.smtp_port,
            "smtp_encryption": mailbox.smtp_encryption,
            "signature": mailbox.mcl_signature,
            "delegate_user_ids": [Command.set(mailbox.mcl_delegate_user_ids.ids)],
            "diagnosis": mailbox.mcl_diagnosis or False,
        }

    def _reopen(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Change a mailbox") if self.mail_server_id else _("Add a mailbox"),
            "context": {"dialog_size": "large"},
        }

    # ------------------------------------------------------------------
    # Prefill
    # ------------------------------------------------------------------

    def action_prefill(self):
        """Pick the provider from the address's domain and fill in its settings; for a domain no
        preset covers, look up the settings the domain publishes."""
        self.ensure_one()
        email = self._normalized_email()
        provider = self.env["mcl.mailbox.provider"]._match_domain(email.rpartition("@")[2])
        if provider:
            self.mcl_provider_id = provider
            self._apply_provider(provider)
            self.diagnosis = self.prefill_source = False
        else:
            self._mcl_prefill_by_discovery(email)  # wizards/mcl_mailbox_setup_discovery.py
        return self._reopen()

    def _apply_provider(self, provider):
        if not provider or not provider.imap_host:
            return
        self.update({
            "imap_host": provider.imap_host,
            "imap_port": provider.imap_port,
            "imap_encryption": provider.imap_encryption,
            "smtp_host": provider.smtp_host,
            "smtp_port": provider.smtp_port,
            "smtp_encryption": provider.smtp_encryption,
        })
        if self.email and email_normalize(self.email):
            self.login = provider._login_for(email_normalize(self.email))
        if not self.name and provider:
            self.name = provider.name

    # ------------------------------------------------------------------
    # Test, then save
    # ------------------------------------------------------------------

    def action_test_and_save(self):
        """Test both sides at once; save the mailbox only if both connect."""
        self.ensure_one()
        self._check_mail_server_id()
        self._check_ready()
        password = self._secret_to_test()
        imap_endpoint, smtp_endpoint = self._endpoints(password)
        results = self._mcl_run_checks(imap_endpoint, smtp_endpoint, self._normalized_email())
        failures = [(diagnosis, imap_endpoint if side == "imap" else smtp_endpoint)
                    for side, diagnosis in sorted(results.items()) if diagnosis]
        if failures:
            self.diagnosis = "\n\n".join(self._mcl_explain(diagnosis, endpoint) for diagnosis, endpoint in failures)
            if self._mcl_mechanism() == "password":  # typed again; a sign-in is kept for the next test
                self.sudo().mcl_password_token = False
            return self._reopen()
        mailbox = self._save_mailbox(password)
        mailbox._mcl_requeue_failed_mails()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": _("Mailbox connected"),
                "message": _("“%(name)s” sends and receives: emails from %(email)s now leave through it.",
                             name=mailbox.name, email=mailbox.mcl_email),
                "next": self._after_save(),
            },
        }

    def _after_save(self):
        """Close the dialog; a form the sign-in came back to opens the user's mailboxes instead."""
        if self.back_from_sign_in:
            return self.env["ir.actions.act_window"]._for_xml_id("mcl_mailbox.ir_mail_server_action_my_mailboxes")
        return {"type": "ir.actions.act_window_close"}

    def _check_ready(self):
        if not self.terms_accepted:
            raise UserError(_("Tick the terms of use first."))
        self._normalized_email()
        missing = [label for label, value in (
            (_("label"), self.name), (_("login"), self.login), (_("IMAP server"), self.imap_host),
            (_("SMTP server"), self.smtp_host),
        ) if not (value or "").strip()]
        if missing:
            raise UserError(_("Fill in: %s.", ", ".join(missing)))
        for label, value in ((_("Label"), self.name), (_("Login"), self.login)):
            if CONTROL_CHARACTERS.search(value):
                raise UserError(_("%s must be on one line, without control characters.", label))
        for label, host in ((_("IMAP server"), self.imap_host), (_("SMTP server"), self.smtp_host)):
            if not HOST_PATTERN.match(host.strip()):
                raise UserError(_("%(label)s “%(host)s” is not a server name: type only the name, "
                                  "without https:// or a path (for example imap.gmail.com).", label=label, host=host))
        for label, port in ((_("IMAP port"), self.imap_port), (_("SMTP port"), self.smtp_port)):
            if not 0 < port < 65536:
                raise UserError(_("%(label)s must be between 1 and 65535, not %(port)s.", label=label, port=port))
        if "none" in (self.imap_encryption, self.smtp_encryption) and not self.is_admin:
            raise UserError(_("Only an administrator can choose a connection without encryption."))
        email, mailbox = self._normalized_email(), self.mail_server_id.sudo()
        self._check_signed_in_as(email)
        self._check_sign_in_servers()
        if email != mailbox.mcl_email:  # a colleague taking the address later must not lock the owner out
            self.env["ir.mail_server"]._mcl_check_address(email, mailbox.owner_user_id or self.env.user)
        self._check_address_free(email, mailbox)

    def _check_signed_in_as(self, email):
        """A sign-in connects only the account it was made with."""
        account = self.signed_in_as
        if self._mcl_mechanism() == "xoauth2" and account != email:
            raise UserError(self._mcl_explain_oauth("oauth_wrong_account", "", account=account, email=email))

    def _check_sign_in_servers(self):
        """A sign-in's tokens go only to the servers of the provider signed in with (its preset)."""
        if self._mcl_mechanism() != "xoauth2":
            return
        provider = self.mcl_provider_id
        preset = (provider.imap_host, provider.imap_port, provider.imap_encryption,
                  provider.smtp_host, provider.smtp_port, provider.smtp_encryption)
        typed = ((self.imap_host or "").strip(), self.imap_port, self.imap_encryption,
                 (self.smtp_host or "").strip(), self.smtp_port, self.smtp_encryption)
        if not provider.oauth_service or typed != preset:
            raise UserError(_("A sign-in with %(service)s connects only to the servers of %(provider)s: click "
                              "Prefill to put them back, or type an app password for other servers.",
                              service=SERVICE_NAMES.get(provider.oauth_service, provider.name or ""),
                              provider=provider.name or ""))

    def _mcl_run_checks(self, imap_endpoint, smtp_endpoint, mail_from):
        """Connect each side to the address its name was checked for (see ``_mcl_pinned``)."""
        return super()._mcl_run_checks(self._mcl_pinned(imap_endpoint, _("IMAP server")),
                                       self._mcl_pinned(smtp_endpoint, _("SMTP server")), mail_from)

    def _mcl_private_hosts_allowed(self):
        """Whether this user may reach servers on loopback, private or link-local addresses: an
        administrator, or anyone when odoo.conf allows it (local tests and demos).  The only place
        that decides it."""
        return private_hosts_allowed() or self.env.user.has_group("base.group_system")

    def _mcl_pinned(self, endpoint, label):
        """``endpoint`` with the address it must connect to, resolved once and checked public.

        Otherwise the test would let any user probe the practice's internal network, and a name
        resolving to a public address for the check and to a private one for the connection would
        get around it.
        """
        if self._mcl_private_hosts_allowed():
            return endpoint
        try:
            address = probe.public_address(endpoint.host)
        except probe.PrivateAddressError:
            raise UserError(_("%(label)s “%(host)s” is an IP address or a local network address: only an "
                              "administrator can connect such a server. Type the server name your provider "
                              "gives (for example imap.gmail.com).", label=label, host=endpoint.host)) from None
        except (OSError, UnicodeError):
            raise UserError(_("%(label)s: the server name “%(host)s” does not exist. Check the server name; "
                              "Prefill fills it in for known providers.", label=label, host=endpoint.host)) from None
        return dataclasses.replace(endpoint, address=address)

    def _normalized_email(self):
        email = email_normalize(self.email or "", strict=True)
        if not email or CONTROL_CHARACTERS.search(self.email) or email.startswith('"') or email.endswith("."):
            raise UserError(_("“%s” is not a valid email address.", self.email or ""))
        if len(email) > ADDRESS_MAX or len(email.partition("@")[0]) > LOCAL_PART_MAX:
            raise UserError(_("This email address is too long: at most %(total)s characters, %(local)s before the @.",
                              total=ADDRESS_MAX, local=LOCAL_PART_MAX))
        if not email.isascii():
            raise UserError(_("“%(email)s” is not a valid email address for this connection: type it in Latin "
                              "characters (for a domain with accents, its xn-- form).", email=email))
        return email

    def _secret_to_test(self):
        """The password typed here or the tokens of the sign-in done here, else the mailbox's stored
        ones, if its servers and login are those of this form (the mailbox refuses otherwise)."""
        if self._mcl_token():
            return self._mcl_login_secret(*self._endpoints(""))
        if self.mail_server_id.mcl_has_password:
            return self.mail_server_id._mcl_login_secret(*self._endpoints(""))
        if self.mcl_provider_id.auth_kind == "oauth":
            raise UserError(_("Click “%s” first: this provider accepts no password.", self.sign_in_label))
        raise UserError(_("Type the app password of the mailbox."))

    def _endpoints(self, password):
        login, mechanism = (self.login or "").strip(), self._mcl_mechanism()
        return (
            probe.Endpoint((self.imap_host or "").strip(), self.imap_port, self.imap_encryption, login, password,
                           mechanism=mechanism),
            probe.Endpoint((self.smtp_host or "").strip(), self.smtp_port, self.smtp_encryption, login, password,
                           mechanism=mechanism),
        )

    def _save_mailbox(self, password):
        """Create or update the mailbox with what passed the test; its password, or its sign-in, is
        sealed anew to it."""
        email = self._normalized_email()
        tokens = self._tokens_to_save()
        values = {
            "name": self.name.strip(),
            "mcl_email": email,
            "from_filter": email,
            "mcl_provider_id": self.mcl_provider_id.id,
            "smtp_host": self.smtp_host.strip(),
            "smtp_port": self.smtp_port,
            "smtp_encryption": self.smtp_encryption,
            "smtp_authentication": "login",
            "smtp_user": self.login.strip(),
            "smtp_pass": False,
            "mcl_imap_host": self.imap_host.strip(),
            "mcl_imap_port": self.imap_port,
            "mcl_imap_encryption": self.imap_encryption,
            "mcl_signature": self.signature,
            "mcl_delegate_user_ids": [Command.set(self.delegate_user_ids.ids)],
            "mcl_password": password if not tokens else False,
            "mcl_oauth_account": False,
            "mcl_last_error": False,
            "mcl_problem_passing": False,
            "mcl_diagnosis_date": fields.Datetime.now(),
        }
        if self.mail_server_id.mcl_consent_version != TERMS_VERSION:
            values.update(mcl_consent_user_id=self.env.uid, mcl_consent_date=fields.Datetime.now(),
                          mcl_consent_version=TERMS_VERSION)
        mailbox = self.mail_server_id.sudo()
        self._check_address_free(email, mailbox)
        if mailbox.mcl_email == email:  # unchanged: not checked again against the addresses taken since
            del values["mcl_email"]
        if mailbox:
            mailbox.write(values)
        else:
            mailbox = mailbox.create(dict(values, owner_user_id=self.env.uid, sequence=100))
        if tokens:
            mailbox._mcl_store_tokens(tokens)
        self.sudo().mcl_password_token = False
        return mailbox.with_env(self.env)

    def _tokens_to_save(self):
        """The sign-in's tokens (the form's, else the mailbox's), read before the mailbox changes; None
        for a password."""
        if self._mcl_mechanism() != "xoauth2":
            return None
        if self._mcl_token():
            return self._mcl_oauth_tokens(*self._endpoints(""))
        return self.mail_server_id._mcl_oauth_tokens(*self._endpoints(""))

    def _check_address_free(self, email, mailbox):
        taken = self.env["ir.mail_server"].sudo().search_count(
            [("mcl_email", "=", email), ("id", "!=", mailbox.id)]
        )
        if taken:
            raise ValidationError(_("%s is already connected as another mailbox.", email))

    # ------------------------------------------------------------------
    # Sign-in with Microsoft or Google
    # ------------------------------------------------------------------

    def action_mcl_sign_in(self):
        """Go and sign in at the provider; its answer comes back to this form (controllers/main.py)."""
        self.ensure_one()
        self._check_mail_server_id()
        if not self.terms_accepted:
            raise UserError(_("Tick the terms of use first."))
        email = self._normalized_email()
        service = self.mcl_provider_id.oauth_service
        app = service and self._mcl_oauth_app(service)
        if not app:
            raise UserError(self._sign_in_not_configured(service))
        self._apply_provider(self.mcl_provider_id)  # the tokens are sealed to its servers
        nonce = secrets.token_urlsafe(32)
        self.sudo().write({"mcl_oauth_nonce": nonce, "mcl_oauth_started": fields.Datetime.now()})
        url = oauth.authorization_url(service, app.authorize_url, app.client_id, self._mcl_oauth_redirect_uri(),
                                      f"{self.id}.{nonce}", email)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _sign_in_not_configured(self, service):
        """What to ask the administrator when no application is entered for ``service``."""
        if not service:
            return _("This provider has no sign-in: type its app password instead.")
        if service == "microsoft":
            fields_text = _("Settings > General Settings > Discuss > “Outlook Credentials”: Client ID and Client "
                            "Secret of the Microsoft Entra (Azure) application")
        else:
            fields_text = _("Settings > General Settings > Discuss > “Gmail Credentials”: Client ID and Client "
                            "Secret of the Google Cloud application")
        return _(
            "Sign-in with %(service)s is not set up in this Odoo yet. Ask your Odoo administrator to enter, once for "
            "the whole practice, %(fields)s, with the redirect URI %(redirect)s. Odoo's documentation shows each "
            "step: %(docs)s",
            service=SERVICE_NAMES[service], fields=fields_text, redirect=self._mcl_oauth_redirect_uri(),
            docs=SETUP_DOCS[service],
        )

    @api.model
    def _mcl_sign_in_form(self, state):
        """The form a provider's answer carrying ``state`` belongs to: one of the current user's, with a
        sign-in started from it a short while ago and not used yet (empty otherwise). Its nonce is used
        up at once."""
        form_id, _dot, nonce = (state or "").partition(".")
        form = self.browse(int(form_id) if form_id.isdigit() else []).sudo().exists()
        if not form or form.create_uid != self.env.user or not nonce or not form.mcl_oauth_nonce:
            return self.browse()
        fresh = form.mcl_oauth_started and (
            fields.Datetime.now() - form.mcl_oauth_started < datetime.timedelta(minutes=SIGN_IN_MINUTES))
        matches = secrets.compare_digest(form.mcl_oauth_nonce.encode(), nonce.encode())
        if matches:
            form.write({"mcl_oauth_nonce": False, "mcl_oauth_started": False})
        return form.with_env(self.env) if matches and fresh else self.browse()

    def _mcl_sign_in_answered(self, code=None, error=None, error_description=None):
        """Keep the tokens of the provider's answer, if they are those of the form's address; otherwise
        say why on the form."""
        self.ensure_one()
        self.write({"diagnosis": False, "back_from_sign_in": True})
        try:
            tokens = self._redeem(code, error, error_description)
        except oauth.OAuthError as failure:
            self.diagnosis = self._mcl_explain_oauth(failure.code, failure.reply, **failure.params)
            return
        except UserError as failure:
            self.diagnosis = failure.args[0]
            return
        email = email_normalize(self.email or "")
        if tokens.account != email:
            self.diagnosis = self._mcl_explain_oauth("oauth_wrong_account", "", account=tokens.account or "?",
                                                     email=email)
            return
        self._mcl_store_tokens(tokens)

    def _redeem(self, code, error, error_description):
        if error or not code:
            raise oauth.authorize_error(error or "access_denied", error_description)
        service = self._mcl_oauth_service()
        app = self._mcl_oauth_app(service)
        if not app:
            raise UserError(self._sign_in_not_configured(service))
        return oauth.redeem_code(service, app.token_url, (app.client_id, app.client_secret), code,
                                 self._mcl_oauth_redirect_uri(), self._mcl_ssl_context(), self._mcl_timeout())
