import base64
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core import probe, sent_copy
from .mcl_mailbox_mixin import configured_ca_file

_logger = logging.getLogger(__name__)

# After this many failed attempts a copy is left aside, its last error visible to administrators.
MAX_ATTEMPTS = 10


class McLMailboxSentCopy(models.Model):
    """A sent message waiting to be filed in its mailbox's Sent folder.

    Queued when the message leaves, filed later by a cron so that nobody waits
    for it, and deleted once the folder holds it (checked by Message-ID, so a
    retry never files it twice).
    """

    _name = "mcl.mailbox.sent.copy"
    _description = "Copy of a Sent Email for the Sent Folder"
    _order = "id"

    mail_server_id = fields.Many2one("ir.mail_server", string="Mailbox", required=True, ondelete="cascade",
                                     index=True)
    message_id = fields.Char(string="Message-ID", required=True)
    raw_message = fields.Binary(string="Message", attachment=False, required=True)
    attempt_count = fields.Integer(string="Attempts", default=0)
    last_error = fields.Text()

    _sql_constraints = [
        ("message_unique", "unique(mail_server_id, message_id)", "This message is already queued for the Sent folder."),
    ]

    @api.model
    def _enqueue(self, mailbox, message):
        """Queue ``message`` (an email.message.Message just sent) for ``mailbox``'s Sent folder."""
        message_id = (message["Message-Id"] or "").strip()
        if not message_id or self.search_count([("mail_server_id", "=", mailbox.id), ("message_id", "=", message_id)]):
            return
        self.create({
            "mail_server_id": mailbox.id,
            "message_id": message_id,
            "raw_message": base64.b64encode(message.as_bytes()),
        })
        self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_sent_copy")._trigger()

    @api.model
    def _cron_file_sent_copies(self, limit=100):
        """File the waiting copies; a failure is kept for a later run."""
        context = probe.make_ssl_context(configured_ca_file())
        for copy in self.search([("attempt_count", "<", MAX_ATTEMPTS)], limit=limit):
            copy._file(context)

    def _file(self, ssl_context):
        mailbox = self.mail_server_id
        password = ""
        try:
            password = mailbox._mcl_decrypt_password()
            endpoint = mailbox._mcl_endpoints(password)[0]
            raw = base64.b64decode(self.raw_message)
            sent_copy.append_once(endpoint, ssl_context, self._mcl_timeout(), raw, self.message_id)
        except UserError as error:
            self._record_failure(error.args[0])
        except Exception as error:  # recorded and retried by the next run, never raised into the cron
            self._record_failure(probe.diagnose("imap", error, password).reply)
        else:
            self.unlink()

    def _record_failure(self, reason):
        self.write({"attempt_count": self.attempt_count + 1, "last_error": reason})
        _logger.info("Sent copy %s for mailbox %s not filed yet (attempt %s)", self.id, self.mail_server_id.id,
                     self.attempt_count)

    @api.model
    def _mcl_timeout(self):
        return self.env["mcl.mailbox.mixin"]._mcl_timeout()
