import smtplib

from odoo import models
from odoo.exceptions import UserError

from ..core import probe


class IrMailServer(models.Model):
    """Who may open a personal mailbox, and what a failed connection says.

    ``connect`` is public, hence callable over RPC (``test_smtp_connection`` and
    ``send_email`` reach it too): only the owner, an administrator or the mail
    queue (superuser) may make Odoo log in to a personal mailbox.
    """

    _inherit = "ir.mail_server"

    def connect(self, host=None, port=None, user=None, password=None, encryption=None, smtp_from=None,
                ssl_certificate=None, ssl_private_key=None, smtp_debug=False, mail_server_id=None,
                allow_archived=False):
        """Check the caller may use the personal mailbox; explain a failure in plain words."""
        mailbox = self._mcl_mailbox_to_connect(mail_server_id, host, smtp_from)
        if mailbox and not self.env.su:
            self.browse(mailbox.id).check_access("read")
        try:
            return super().connect(
                host=host, port=port, user=user, password=password, encryption=encryption, smtp_from=smtp_from,
                ssl_certificate=ssl_certificate, ssl_private_key=ssl_private_key, smtp_debug=smtp_debug,
                mail_server_id=mail_server_id, allow_archived=allow_archived,
            )
        except OSError as error:
            # A refused login is explained by _smtp_login already.
            if not mailbox or isinstance(error, smtplib.SMTPResponseException):
                raise
            raise UserError(mailbox._mcl_connection_problem(error)) from None

    def _mcl_connection_problem(self, error):
        """Record why connecting failed (a certificate, a timeout, ...) and return it."""
        message = self._mcl_explain(probe.diagnose("smtp", error), self._mcl_endpoints("")[1])
        self._mcl_record_problem(message)
        return message
