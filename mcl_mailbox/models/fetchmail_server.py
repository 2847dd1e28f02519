import imaplib
import ssl

from odoo import _, api, models
from odoo.exceptions import UserError

from odoo.addons.mail.models.fetchmail import IMAP4Connection

from ..core import probe


class VerifiedIMAP4Connection(IMAP4Connection):
    """Odoo's IMAP connection over implicit TLS, with a verifying context and a timeout."""

    def __init__(self, server, port, ssl_context, timeout):
        self.__obj__ = imaplib.IMAP4_SSL(server, port, ssl_context=ssl_context, timeout=timeout)


class FetchmailServer(models.Model):
    """Provider presets, the encrypted password and a verified test for incoming servers.

    Personal mailboxes never become fetchmail servers: a confirmed server marks
    every unread message of the inbox as read.  This serves the servers an
    administrator sets up on purpose (a shared address feeding Odoo).
    """

    _name = "fetchmail.server"
    _inherit = ["fetchmail.server", "mcl.mailbox.mixin"]

    @api.onchange("mcl_provider_id")
    def _onchange_mcl_provider_id(self):
        provider = self.mcl_provider_id
        if not provider.imap_host:
            return None
        if provider.imap_encryption == "starttls":
            return {"warning": {
                "title": _("STARTTLS is not available here"),
                "message": _("Odoo fetches IMAP mail over SSL/TLS or without encryption only: "
                             "type the SSL/TLS settings of %s by hand.", provider.name),
            }}
        self.update({
            "server_type": "imap",
            "server": provider.imap_host,
            "port": provider.imap_port,
            "is_ssl": provider.imap_encryption == "ssl",
        })
        return None

    def onchange_server_type(self):
        """Keep the preset's port: Odoo resets it when the type or SSL changes."""
        result = super().onchange_server_type()
        provider = self.mcl_provider_id
        if provider.imap_host and self.server_type == "imap" and self.is_ssl == (provider.imap_encryption == "ssl"):
            self.port = provider.imap_port
        return result

    def _inverse_mcl_password(self):
        """The encrypted password replaces the clear one Odoo would store."""
        result = super()._inverse_mcl_password()
        self.filtered("mcl_has_password").password = False
        return result

    def _mcl_sealed_endpoints(self):
        return [self._mcl_endpoint("")]

    def _mcl_may_reveal(self, user):
        return user.has_group("base.group_system")

    def _mcl_endpoint(self, password):
        return probe.Endpoint(self.server or "", self.port, "ssl" if self.is_ssl else "none", self.user or "", password)

    def connect(self, allow_archived=False):
        """With an encrypted password stored, connect over SSL/TLS only, with a verified certificate
        (host name included) and the connection timeout: Odoo's own IMAP connection checks neither,
        for the fetch cron, "Test & Confirm" and "Fetch Now" alike."""
        if not self.env.su:
            self.check_access("read")
        if not self._mcl_token():
            return super().connect(allow_archived=allow_archived)
        self.ensure_one()
        if not allow_archived and not self.active:
            raise UserError(_('The server "%s" cannot be used because it is archived.', self.display_name))
        if self._get_connection_type() != "imap" or not self.is_ssl:
            raise UserError(_(
                "“%s” stores an encrypted password, which Odoo sends only over IMAP with SSL/TLS, never in "
                "clear text: choose IMAP, tick SSL/TLS and use the server's SSL port (usually 993).",
                self.display_name,
            ))
        context = self._mcl_ssl_context()
        connection = VerifiedIMAP4Connection(self.server, int(self.port), context, self._mcl_timeout())
        try:
            self._imap_login(connection)
        except BaseException:
            connection.shutdown()
            raise
        return connection

    def _imap_login(self, connection):
        """Log in with the decrypted password when one is stored encrypted, for the server really connected to."""
        if not self._mcl_token():
            return super()._imap_login(connection)
        self.ensure_one()
        imap = getattr(connection, "__obj__", connection)
        verified = isinstance(imap, imaplib.IMAP4_SSL) and imap.sock.context.verify_mode == ssl.CERT_REQUIRED \
            and imap.sock.context.check_hostname
        connected = probe.Endpoint(imap.host, imap.port, "ssl" if verified else "none", self.user, "")
        connection.login(self.user, self._mcl_decrypt_password(connected))
        return None

    def action_mcl_test_connection(self):
        """Log in over IMAP with a verified certificate; explain a failure in plain words.  Administrators only."""
        self.ensure_one()
        self.check_access("write")
        password = self._mcl_decrypt_password(self._mcl_endpoint("")) if self.mcl_has_password else (self.password or "")
        endpoint = self._mcl_endpoint(password)
        try:
            probe.check_imap(endpoint, self._mcl_ssl_context(), self._mcl_timeout())
        except Exception as error:  # every failure is explained to the user
            raise UserError(self._mcl_explain(probe.diagnose("imap", error, password), endpoint)) from None
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": _("The incoming server accepts the login.")},
        }
