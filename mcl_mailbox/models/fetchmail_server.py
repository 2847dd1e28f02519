from odoo import _, api, models
from odoo.exceptions import UserError

from ..core import probe
from .mcl_mailbox_mixin import configured_ca_file


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

    def _imap_login(self, connection):
        """Log in with the decrypted password when one is stored encrypted."""
        if not self.sudo().mcl_password_token:
            return super()._imap_login(connection)
        self.ensure_one()
        connection.login(self.user, self._mcl_decrypt_password())
        return None

    def action_mcl_test_connection(self):
        """Log in over IMAP with a verified certificate; explain a failure in plain words."""
        self.ensure_one()
        password = self._mcl_decrypt_password() if self.mcl_has_password else (self.password or "")
        endpoint = probe.Endpoint(self.server, self.port, "ssl" if self.is_ssl else "none", self.user, password)
        try:
            probe.check_imap(endpoint, probe.make_ssl_context(configured_ca_file()), self._mcl_timeout())
        except Exception as error:  # every failure is explained to the user
            raise UserError(self._mcl_explain(probe.diagnose("imap", error, password), endpoint)) from None
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": _("The incoming server accepts the login.")},
        }
