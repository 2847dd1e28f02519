import logging
import os

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import config

from ..core import probe, vault
from ..diagnoses import CREDENTIALS_ADVICE, DIAGNOSES, UNKNOWN

_logger = logging.getLogger(__name__)

KEYS_OPTION = "mcl_mailbox_keys"
KEYS_ENVIRON = "MCL_MAILBOX_KEYS"
CA_FILE_OPTION = "mcl_mailbox_ca_file"
CA_FILE_ENVIRON = "MCL_MAILBOX_CA_FILE"


def configured_keys():
    """The comma-separated Fernet keys from odoo.conf, else from the environment."""
    return config.get(KEYS_OPTION) or os.environ.get(KEYS_ENVIRON, "")


def configured_ca_file():
    """An extra CA bundle to trust besides the system store (the local test stack's CA)."""
    return config.get(CA_FILE_OPTION) or os.environ.get(CA_FILE_ENVIRON) or None


def key_setup_hint(env):
    return env._(
        "Add the line “%(option)s = <key>” to the [options] section of odoo.conf "
        "(or set the environment variable %(environ)s) and restart Odoo. "
        "Generate a key with: python3 -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"",
        option=KEYS_OPTION,
        environ=KEYS_ENVIRON,
    )


def endpoint_key(endpoint):
    """An endpoint (host, port, security, login) in the form a password is sealed to, compared exactly."""
    return [endpoint.host, int(endpoint.port), endpoint.security, endpoint.login]


class McLMailboxMixin(models.AbstractModel):
    """Encrypted password and provider preset shared by the mail server models.

    The clear password is write-only: it is sealed as soon as it is assigned,
    bound to its record and to the endpoints it was typed for (see
    ``_mcl_binding``), and opened only for a connection to one of them, by a
    user allowed to (``_mcl_may_reveal``).  The token column is readable by the
    superuser alone.
    """

    _name = "mcl.mailbox.mixin"
    _description = "Encrypted Mailbox Password"

    mcl_provider_id = fields.Many2one(
        "mcl.mailbox.provider",
        string="Provider",
        help="Settings of the mail provider; Prefill picks it from the address.",
    )
    mcl_password = fields.Char(
        string="App password",
        compute="_compute_mcl_password",
        inverse="_inverse_mcl_password",
        help="Stored encrypted; it can be replaced but never read back.",
    )
    mcl_password_token = fields.Char(groups=fields.NO_ACCESS, copy=False)
    mcl_has_password = fields.Boolean(
        string="Password stored",
        compute="_compute_mcl_has_password",
    )

    @api.model_create_multi
    def create(self, vals_list):
        """Fields a user may not write (the sealed secret and what it is) cannot be given at creation either."""
        if not self.env.su:
            self.check_field_access_rights("write", list({name for vals in vals_list for name in vals}))
        return super().create(vals_list)

    def _compute_mcl_password(self):
        self.mcl_password = False

    def _inverse_mcl_password(self):
        for record in self:
            clear = vault.clean_app_password(record.mcl_password)
            if clear:
                record.sudo().mcl_password_token = record._mcl_seal(clear)
        self.invalidate_recordset(["mcl_password"])  # the typed value must not be read back from the cache

    @api.depends("mcl_password_token")
    def _compute_mcl_has_password(self):
        for record in self:
            record.mcl_has_password = bool(record._mcl_token())

    def _mcl_token(self):
        """The stored token, read alone: a superuser read would otherwise load the whole row into the
        cache, where a later read of any other column of it is served without access check."""
        self.ensure_one()
        return self.sudo().with_context(prefetch_fields=False).mcl_password_token

    # ------------------------------------------------------------------
    # Sealing: a password opens only for its record and its endpoints
    # ------------------------------------------------------------------

    def _mcl_sealed_endpoints(self):
        """The endpoints (probe.Endpoint, password empty) this record's password may be sent to.

        An empty list binds the password to the record alone (a set-up form, whose
        author types the password for the servers they choose).
        """
        return []

    def _mcl_sealed_holder(self):
        """Who the password is sealed to besides the record (a user id, or False)."""
        return False

    def _mcl_may_reveal(self, user):
        """Whether ``user`` may have Odoo use this record's password (the superuser always may)."""
        raise NotImplementedError

    def _mcl_binding(self):
        """What the password is sealed to: this database, this very record, its holder and its current
        endpoints.  A token copied to another database, row or holder, or left on a row whose servers
        changed, opens nothing."""
        self.ensure_one()
        record = self.sudo()
        return {
            "db": self.env.cr.dbname,
            "model": self._name,
            "id": self.id,
            "holder": record._mcl_sealed_holder(),
            "endpoints": sorted(endpoint_key(endpoint) for endpoint in record._mcl_sealed_endpoints()),
        }

    def _mcl_seal(self, clear):
        self.ensure_one()
        try:
            return vault.seal(configured_keys(), clear, self._mcl_binding())
        except (vault.KeyMissingError, vault.KeyInvalidError) as error:
            raise UserError(self._mcl_key_problem(error)) from None

    @api.model
    def _mcl_check_keys(self):
        """Raise a UserError explaining a missing or invalid key."""
        try:
            vault.parse_keys(configured_keys())
        except (vault.KeyMissingError, vault.KeyInvalidError) as error:
            raise UserError(self._mcl_key_problem(error)) from None

    @api.model
    def _mcl_key_problem(self, error):
        if isinstance(error, vault.KeyMissingError):
            return self.env._("The mailbox encryption key is missing: none is configured for mailbox passwords.") \
                + "\n" + key_setup_hint(self.env)
        return self.env._("The mailbox encryption key is not a valid Fernet key.") + "\n" + key_setup_hint(self.env)

    def _mcl_decrypt_password(self, *endpoints):
        """The clear password, for a connection to ``endpoints`` (probe.Endpoint) only.

        Refused unless the current user may use it, the token was sealed for this
        record as it is now, and each endpoint is one it was sealed to.
        """
        self.ensure_one()
        if not self.env.su and not self._mcl_may_reveal(self.env.user):
            raise AccessError(_("Only the owner of this mailbox can use its password."))
        binding = self._mcl_binding()
        if binding["endpoints"] and (
            not endpoints or any(endpoint_key(endpoint) not in binding["endpoints"] for endpoint in endpoints)
        ):
            raise UserError(self._mcl_server_changed())
        token = self._mcl_token()
        if not token:
            raise UserError(_("No app password is stored for this mailbox: enter it again."))
        try:
            return vault.unseal(configured_keys(), token, binding)
        except (vault.KeyMissingError, vault.KeyInvalidError) as error:
            raise UserError(self._mcl_key_problem(error)) from None
        except vault.UndecryptableError:
            raise UserError(
                _("The stored app password cannot be decrypted (the encryption key changed): re-enter your app password.")
            ) from None
        except vault.BindingError:
            raise UserError(self._mcl_server_changed()) from None

    def _mcl_mechanism(self):
        """How this record logs in: 'password' (see mcl.mailbox.oauth.mixin for 'xoauth2')."""
        return "password"

    def _mcl_login_secret(self, *endpoints, force_refresh=False):
        """What this record logs in to ``endpoints`` with: its password (or an access token)."""
        return self._mcl_decrypt_password(*endpoints)

    @api.model
    def _mcl_server_changed(self):
        return _("Type the app password again: the server settings changed since it was saved.")

    def _mcl_token_fits(self):
        """Whether the stored password opens for this record as it is now (checked without a user)."""
        self.ensure_one()
        token = self._mcl_token()
        if not vault.can_decrypt(configured_keys(), token):
            return False
        try:
            vault.unseal(configured_keys(), token, self._mcl_binding())
        except (vault.UndecryptableError, vault.BindingError, vault.KeyInvalidError):
            return False
        return True

    # ------------------------------------------------------------------
    # Connection test
    # ------------------------------------------------------------------

    @api.model
    def _mcl_timeout(self):
        value = self.env["ir.config_parameter"].sudo().get_param("mcl_mailbox.connection_timeout", "10")
        try:
            return max(1.0, float(value))
        except ValueError:
            return 10.0

    @api.model
    def _mcl_ssl_context(self):
        """The one TLS context of every connection to a mailbox: verifying, with the configured extra CA."""
        return probe.make_ssl_context(configured_ca_file())

    @api.model
    def _mcl_run_checks(self, imap_endpoint, smtp_endpoint, mail_from):
        """Test IMAP and SMTP at once; return {side: Diagnosis or None}."""
        return probe.check_both(imap_endpoint, smtp_endpoint, self._mcl_ssl_context(), self._mcl_timeout(), mail_from)

    def _mcl_explain(self, diagnosis, endpoint):
        """A message in plain words: which side, the cause, what to do, the server's reply."""
        side = _("Incoming mail (IMAP)") if diagnosis.side == "imap" else _("Outgoing mail (SMTP)")
        cause, advice = self._mcl_cause_and_advice(diagnosis.code, endpoint)
        lines = [_("%(side)s: %(cause)s", side=side, cause=cause), _("What to do: %s", advice)]
        if diagnosis.reply:
            lines.append(_("Server reply: %s", diagnosis.reply))
        return "\n".join(lines)

    def _mcl_cause_and_advice(self, code, endpoint):
        """The cause of a diagnosis ``code`` and what to do, in the user's language."""
        cause, advice = DIAGNOSES.get(code, UNKNOWN)
        if advice is None:
            advice = CREDENTIALS_ADVICE[self._mcl_credentials_kind()]
        params = {"host": endpoint.host, "port": endpoint.port, "login": endpoint.login,
                  "seconds": int(self._mcl_timeout())}
        return self.env._(cause) % params, self.env._(advice) % params

    def _mcl_credentials_kind(self):
        """Which advice fits a refused login (a key of CREDENTIALS_ADVICE)."""
        return "app_password" if self.mcl_provider_id.auth_kind == "app_password" else "password"

    # ------------------------------------------------------------------
    # Key rotation
    # ------------------------------------------------------------------

    @api.model
    def _mcl_rotate_secrets(self):
        """Re-encrypt every stored password with the current (first) key.

        Return {model name: {"rotated": n, "current": n, "unreadable": records}};
        a password no configured key opens is left as it is (its owner re-enters it).
        """
        keys = configured_keys()
        self._mcl_check_keys()  # explains a missing or invalid key before anything is touched
        report = {}
        for model_name in self._mcl_secret_models():
            records = self.env[model_name].sudo().with_context(active_test=False).search(
                [("mcl_password_token", "!=", False)], order="id"
            )
            report[model_name] = records._mcl_rotate_tokens(keys)
        _logger.info("Mailbox passwords re-encrypted with the current key: %s", {
            name: {"rotated": counts["rotated"], "current": counts["current"], "unreadable": counts["unreadable"].ids}
            for name, counts in report.items()
        })
        return report

    @api.model
    def _mcl_secret_models(self):
        """The models that store an encrypted password (setup forms included)."""
        return sorted(
            name for name in self.env.registry.descendants([self._name], "_inherit")
            if not self.env[name]._abstract
        )

    def _mcl_rotate_tokens(self, keys):
        counts = {"rotated": 0, "current": 0, "unreadable": self.browse()}
        for record in self:
            token = record.mcl_password_token
            if vault.uses_current_key(keys, token):
                counts["current"] += 1
                continue
            try:
                record.mcl_password_token = vault.rotate(keys, token)
            except vault.UndecryptableError:
                counts["unreadable"] |= record
                continue
            counts["rotated"] += 1
        return counts
