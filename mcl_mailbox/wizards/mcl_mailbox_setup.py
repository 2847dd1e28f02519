import dataclasses
import os
import re

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config, email_normalize

from ..core import probe
from ..models.ir_mail_server import ENCRYPTION_SELECTION, TERMS_VERSION

HOST_PATTERN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# RFC 5321 limits: a whole address, and the part before the @.
ADDRESS_MAX = 254
LOCAL_PART_MAX = 64
PRIVATE_HOSTS_OPTION = "mcl_mailbox_allow_private_hosts"
PRIVATE_HOSTS_ENVIRON = "MCL_MAILBOX_ALLOW_PRIVATE_HOSTS"


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
    _inherit = ["mcl.mailbox.mixin"]
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
    diagnosis = fields.Text(string="Why the test failed", readonly=True)
    is_admin = fields.Boolean(compute="_compute_is_admin")

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
        password = self._password_to_test()
        imap_endpoint, smtp_endpoint = self._endpoints(password)
        results = self._mcl_run_checks(imap_endpoint, smtp_endpoint, self._normalized_email())
        failures = [(diagnosis, imap_endpoint if side == "imap" else smtp_endpoint)
                    for side, diagnosis in sorted(results.items()) if diagnosis]
        if failures:
            self.diagnosis = "\n\n".join(self._mcl_explain(diagnosis, endpoint) for diagnosis, endpoint in failures)
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
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

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
        if email != mailbox.mcl_email:  # a colleague taking the address later must not lock the owner out
            self.env["ir.mail_server"]._mcl_check_address(email, mailbox.owner_user_id or self.env.user)

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

    def _password_to_test(self):
        """The password typed here, else the one the mailbox stores, if its servers and login are
        those of this form (the mailbox refuses otherwise: the password is typed again)."""
        if self._mcl_token():
            return self._mcl_decrypt_password()
        if self.mail_server_id.mcl_has_password:
            return self.mail_server_id._mcl_decrypt_password(*self._endpoints(""))
        raise UserError(_("Type the app password of the mailbox."))

    def _endpoints(self, password):
        login = self.login.strip()
        return (
            probe.Endpoint(self.imap_host.strip(), self.imap_port, self.imap_encryption, login, password),
            probe.Endpoint(self.smtp_host.strip(), self.smtp_port, self.smtp_encryption, login, password),
        )

    def _save_mailbox(self, password):
        """Create or update the mailbox with what passed the test; its password is sealed anew to it."""
        email = self._normalized_email()
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
            "mcl_password": password,
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
        self.sudo().mcl_password_token = False
        return mailbox.with_env(self.env)

    def _check_address_free(self, email, mailbox):
        taken = self.env["ir.mail_server"].sudo().search_count(
            [("mcl_email", "=", email), ("id", "!=", mailbox.id)]
        )
        if taken:
            raise ValidationError(_("%s is already connected as another mailbox.", email))
