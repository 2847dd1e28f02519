import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_WHITESPACE = re.compile(r"\s")


def _split_list(value):
    """Return the non-empty items of a comma-separated string."""
    return [item for item in (value or "").split(",") if item]


def _normalize_list(value):
    """Strip and lowercase each item of a comma-separated list, dropping empty ones."""
    if not value:
        return value
    return ",".join(item.strip().lower() for item in value.split(",") if item.strip())


class MclMailboxProvider(models.Model):
    """Preset of server settings and sign-in guidance for one mail provider."""

    _name = "mcl.mailbox.provider"
    _description = "Mail Provider"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Technical identifier of the preset, e.g. 'gmail'.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)

    # Detection
    domains = fields.Char(
        help="Comma-separated mail domains covered by this preset, "
        "e.g. 'gmail.com,googlemail.com'.",
    )
    mx_patterns = fields.Char(
        string="MX Patterns",
        help="Comma-separated MX host suffixes identifying this provider for "
        "custom domains, e.g. 'google.com,googlemail.com'.",
    )

    # Incoming mail
    imap_host = fields.Char(string="IMAP Server")
    imap_port = fields.Integer(string="IMAP Port")
    imap_encryption = fields.Selection(
        [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None")],
        string="IMAP Encryption",
        default="ssl",
    )

    # Outgoing mail (same keys as ir.mail_server.smtp_encryption)
    smtp_host = fields.Char(string="SMTP Server")
    smtp_port = fields.Integer(string="SMTP Port")
    smtp_encryption = fields.Selection(
        [("none", "None"), ("starttls", "TLS (STARTTLS)"), ("ssl", "SSL/TLS")],
        string="SMTP Encryption",
        default="ssl",
    )

    # Sign-in
    login_format = fields.Selection(
        [("address", "Full email address"), ("local_part", "Part before the @")],
        default="address",
        required=True,
        help="What the provider expects as the username.",
    )
    auth_kind = fields.Selection(
        [
            ("app_password", "App password"),
            ("password", "Mailbox password"),
            ("oauth", "OAuth sign-in only"),
        ],
        string="Authentication",
        default="app_password",
        required=True,
    )

    oauth_service = fields.Selection(
        [("microsoft", "Microsoft"), ("google", "Google")],
        string="Sign-in with",
        help="The identity provider whose sign-in connects this mailbox without a password, once an "
        "administrator has entered its application in Odoo's settings.",
    )

    # Guidance
    password_url = fields.Char(
        string="Password Page",
        help="Provider page where the user creates the app password "
        "or manages the mailbox password.",
    )
    help_url = fields.Char(
        string="Help Page",
        help="Provider help page listing the server settings.",
    )
    note = fields.Text(translate=True)
    setup_steps = fields.Html(
        translate=True,
        sanitize=True,
        help="Steps to take at the provider before connecting the mailbox.",
    )
    files_sent_copy = fields.Boolean(
        string="Files Sent Mail",
        default=False,
        help="The provider itself files mail sent over SMTP into the Sent folder.",
    )

    _sql_constraints = [
        (
            "code_uniq",
            "unique (code)",
            "A mail provider with this code already exists. The code must be unique.",
        ),
    ]

    @api.constrains("auth_kind", "oauth_service")
    def _check_oauth_service(self):
        for provider in self.filtered(lambda provider: provider.auth_kind == "oauth" and not provider.oauth_service):
            raise ValidationError(provider.env._(
                "%s signs in with OAuth only: choose whom it signs in with (Microsoft or Google).", provider.name))

    @api.constrains("imap_port", "smtp_port")
    def _check_ports(self):
        for provider in self:
            for label, port in (
                ("IMAP", provider.imap_port),
                ("SMTP", provider.smtp_port),
            ):
                if port and not 1 <= port <= 65535:
                    raise ValidationError(
                        provider.env._(
                            "The %(service)s port of %(provider)s must be between "
                            "1 and 65535 (got %(port)s).",
                            service=label,
                            provider=provider.name,
                            port=port,
                        )
                    )

    @api.constrains("domains", "mx_patterns")
    def _check_domains(self):
        for provider in self:
            for item in _split_list(provider.domains) + _split_list(
                provider.mx_patterns
            ):
                if "@" in item or _WHITESPACE.search(item):
                    raise ValidationError(
                        provider.env._(
                            'Invalid domain "%(domain)s" on %(provider)s: list domains '
                            "only, without '@' or spaces, separated by commas "
                            "(e.g. gmail.com,googlemail.com).",
                            domain=item,
                            provider=provider.name,
                        )
                    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._normalize_vals(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._normalize_vals(vals)
        return super().write(vals)

    @api.model
    def _normalize_vals(self, vals):
        """Strip and lowercase the domain lists in ``vals``, in place."""
        for fname in ("domains", "mx_patterns"):
            if vals.get(fname):
                vals[fname] = _normalize_list(vals[fname])

    @api.model
    def _match_domain(self, domain):
        """Return the active preset listing mail domain ``domain``, or an empty recordset."""
        domain = (domain or "").strip().lower()
        if not domain:
            return self.browse()
        candidates = self.search([("domains", "ilike", domain)])
        return candidates.filtered(lambda p: domain in _split_list(p.domains))[:1]

    def _login_for(self, email):
        """Return the username to use for ``email`` according to ``login_format``."""
        self.ensure_one()
        email = (email or "").strip()
        if self.login_format == "local_part":
            return email.rpartition("@")[0] or email
        return email
