import base64
import dataclasses
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import split_every

from ..core import probe, sent_copy

_logger = logging.getLogger(__name__)

# After this many failed attempts a copy is left aside, its last error visible to administrators.
MAX_ATTEMPTS = 10
# Copies filed per IMAP session: each session is bounded by the connection timeout.
SESSION_SIZE = 25


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
        self._trigger_once()

    @api.model
    def _trigger_once(self):
        """Wake the cron up once per transaction, however many copies it queues."""
        if not self.env.cr.precommit.data.get(self._name):
            self.env.cr.precommit.data[self._name] = True
            self.env.cr.precommit.add(self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_sent_copy")._trigger)

    @api.model
    def _cron_file_sent_copies(self, limit=500):
        """File the waiting copies, one IMAP session per mailbox and chunk; a failure is kept for later."""
        context = self.env["mcl.mailbox.mixin"]._mcl_ssl_context()
        copies = self.search([("attempt_count", "<", MAX_ATTEMPTS)], limit=limit)
        for mailbox, mailbox_copies in copies.grouped("mail_server_id").items():
            for chunk in split_every(SESSION_SIZE, mailbox_copies.ids, self.browse):
                chunk._file(mailbox, context)

    def _file(self, mailbox, ssl_context):
        password = ""
        try:
            imap = mailbox._mcl_imap_endpoint("")
            password = mailbox._mcl_login_secret(imap)
            endpoint = dataclasses.replace(imap, password=password)
            messages = [(copy.message_id, base64.b64decode(copy.raw_message)) for copy in self]
            sent_copy.file_copies(endpoint, ssl_context, self._mcl_timeout(), messages)
        except UserError as error:
            self._record_failure(mailbox, error.args[0])
        except Exception as error:  # recorded and retried by the next run, never raised into the cron
            self._record_failure(mailbox, probe.diagnose("imap", error, password).reply)
        else:
            self.unlink()

    def _record_failure(self, mailbox, reason):
        for copy in self:
            copy.write({"attempt_count": copy.attempt_count + 1, "last_error": reason})
        _logger.info("%s copies for the Sent folder of mailbox %s not filed yet", len(self), mailbox.id)

    @api.model
    def _mcl_timeout(self):
        return self.env["mcl.mailbox.mixin"]._mcl_timeout()
