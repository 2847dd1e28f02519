from odoo import _, api, models
from odoo.exceptions import UserError


class FetchmailServer(models.Model):
    """Provider presets and the encrypted password for incoming servers.

    Personal mailboxes never become fetchmail servers: a confirmed server marks
    every unread message of the inbox as read.  This serves the servers an
    administrator sets up on purpose (a shared address feeding Odoo).
    """

    _name = "fetchmail.server"
    _inherit = ["fetchmail.server", "mcl.mailbox.mixin"]

    @api.onchange("mcl_provider_id")
    def _onchange_mcl_provider_id(self):
        provider = self.mcl_provider_id
        if not provider or not provider.imap_host:
            return
        if provider.imap_encryption == "starttls":
            raise UserError(_("Odoo fetches IMAP mail over SSL/TLS or without encryption only, not STARTTLS."))
        self.server_type = "imap"
        self.server = provider.imap_host
        self.port = provider.imap_port
        self.is_ssl = provider.imap_encryption == "ssl"

    def _imap_login(self, connection):
        """Log in with the decrypted password when one is stored encrypted."""
        if not self.sudo().mcl_password_token:
            return super()._imap_login(connection)
        self.ensure_one()
        connection.login(self.user, self._mcl_decrypt_password())
