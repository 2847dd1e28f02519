import dataclasses
import email
import email.parser
import email.policy
import logging
import threading
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize
from odoo.tools.mail import decode_message_header, unfold_references

from ..core import probe, replies

_logger = logging.getLogger(__name__)

# Key of the transaction-level advisory lock that keeps two workers off the same mailbox.
LOCK_NAMESPACE = 0x6D636C72  # "mclr"
REFERENCES_ROUTED = 32  # the references Odoo's mail gateway looks at (mail.thread.message_route)
PARAMETERS = {  # system parameter: default
    "mcl_mailbox.replies_per_run": 50,
    "mcl_mailbox.replies_max_size": 25 * 1024 * 1024,
    "mcl_mailbox.replies_since_days": 30,
    "mcl_mailbox.replies_session_timeout": None,  # seconds; default: six times the connection timeout
}


class McLMailboxReplyFolder(models.Model):
    """Where the search for replies stopped in one folder of a personal mailbox.

    A folder is known by its IMAP name and its UIDVALIDITY; ``last_uid`` is the highest UID
    dealt with. When the server renumbers the folder (another UIDVALIDITY) or the mailbox now
    reads another account, the search starts again from the date window: Odoo's mail gateway
    ignores a Message-ID it already has, so nothing is posted twice.
    """

    _name = "mcl.mailbox.reply.folder"
    _description = "Mailbox Folder Searched for Replies"
    _order = "mail_server_id, id"

    mail_server_id = fields.Many2one("ir.mail_server", string="Mailbox", required=True, ondelete="cascade",
                                     index=True)
    name = fields.Char(string="Folder", required=True, help="The folder's name as the IMAP server gives it.")
    account = fields.Char(help="Server, port and login the folder was read on.")
    uidvalidity = fields.Float(string="UIDVALIDITY", digits=(10, 0))
    last_uid = fields.Float(string="Last UID", digits=(10, 0))

    _sql_constraints = [
        ("folder_unique", "unique(mail_server_id, name)", "This folder is already followed for this mailbox."),
    ]

    # ------------------------------------------------------------------
    # The cron
    # ------------------------------------------------------------------

    @api.model
    def _cron_fetch_replies(self):
        """Check each personal mailbox that brings replies in, least recently checked first."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        left = self._parameter("mcl_mailbox.replies_per_run")
        mailboxes = self._mailboxes_due()
        done = 0
        for mailbox in mailboxes:
            if left <= 0:
                break
            left -= self._check_mailbox(mailbox, left)
            done += 1
            if auto_commit:
                # Like Odoo's fetchmail: what a mailbox gave is kept, and its row is not held while the others
                # are checked (the mail queue writes the status of the mailboxes it sends through).
                self.env.cr.commit()  # pylint: disable=invalid-commit
        # The cap is per run: mailboxes left out wait for the next one (they come first then), rather than
        # have the cron runner call again at once.
        self.env["ir.cron"]._notify_progress(done=done, remaining=0)

    @api.model
    def _mailboxes_due(self):
        mailboxes = self.env["ir.mail_server"].sudo().search(
            [("owner_user_id", "!=", False), ("mcl_replies_enabled", "=", True), ("mcl_imap_host", "!=", False)],
            order="mcl_replies_checked_on asc nulls first, id",
        )
        return mailboxes.filtered(lambda mailbox: mailbox._mcl_replies_may_check())

    @api.model
    def _parameter(self, name):
        value = self.env["ir.config_parameter"].sudo().get_param(name)  # False when not set
        try:
            return max(0, int(value)) if value not in (False, None, "") else PARAMETERS[name]
        except ValueError:
            return PARAMETERS[name]

    @api.model
    def _check_mailbox(self, mailbox, allowed):
        """One IMAP session on ``mailbox``, downloading at most ``allowed`` replies; return how many it did."""
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, mailbox.id))
        if not self.env.cr.fetchone()[0]:
            return 0  # another worker is on it
        mailbox = mailbox.with_context(lang=mailbox.owner_user_id.lang)  # what the owner reads, in their language
        run = _Run(self, mailbox, allowed)
        password = ""
        try:
            imap = mailbox._mcl_imap_endpoint("")
            password = mailbox._mcl_password_for_login(imap)
            run.check(dataclasses.replace(imap, password=password))
        except UserError as error:  # the password cannot be used: already on the mailbox's status
            mailbox._mcl_replies_failed(error.args[0], "password_unusable")
        except Exception as error:  # on the mailbox's status, never a traceback in the cron
            diagnosis = probe.diagnose("imap", error, password)
            mailbox._mcl_replies_failed(mailbox._mcl_explain(diagnosis, mailbox._mcl_imap_endpoint("")),
                                        diagnosis.code)
            _logger.info("Replies of mailbox %s not checked: %s", mailbox.id, diagnosis.code)
        else:
            mailbox._mcl_replies_succeeded(run.summary())
            _logger.info("Replies of mailbox %s checked: %s", mailbox.id, run.counts)
        return run.downloaded

    # ------------------------------------------------------------------
    # Folder state
    # ------------------------------------------------------------------

    @api.model
    def _state(self, mailbox, name, account):
        folder = self.search([("mail_server_id", "=", mailbox.id), ("name", "=", name)], limit=1)
        if not folder or folder.account != account:
            return None
        return int(folder.uidvalidity), int(folder.last_uid)

    @api.model
    def _remember(self, mailbox, scan, account):
        values = {"account": account, "uidvalidity": scan.uidvalidity, "last_uid": scan.last_uid}
        folder = self.search([("mail_server_id", "=", mailbox.id), ("name", "=", scan.name)], limit=1)
        if folder:
            folder.write(values)
        else:
            self.create(dict(values, mail_server_id=mailbox.id, name=scan.name))


@dataclasses.dataclass(frozen=True)
class _Threading:
    """The header fields of a message that say what it answers, and who wrote it."""

    message_id: str
    routed: list  # the references Odoo's gateway routes on
    named: list  # every Message-ID it names
    sender: str  # its From, normalized; False unless one address


class _Run:
    """The check of one mailbox: which candidates are real replies, and posting them through the gateway."""

    def __init__(self, folders, mailbox, allowed):
        self.folders = folders
        self.env = mailbox.env
        self.mailbox = mailbox
        self.max_size = folders._parameter("mcl_mailbox.replies_max_size")
        self.allowed = allowed
        self.downloaded = 0
        self.counts = {"posted": 0, "too_large": 0, "failed": 0}
        self.complete = True
        self.seen = set()  # Message-IDs met in this session (Gmail shows INBOX again in All Mail)

    def check(self, endpoint):
        timeout = self.mailbox._mcl_timeout()
        deadline = self.folders._parameter("mcl_mailbox.replies_session_timeout") or 6 * timeout
        # no download starts once a read might outlast the session
        budget = replies.Budget(self.allowed, time.monotonic() + max(deadline - timeout, deadline / 2), self.max_size)
        since = fields.Date.context_today(self.folders) - timedelta(
            days=self.folders._parameter("mcl_mailbox.replies_since_days"))
        account = f"{endpoint.host}:{endpoint.port}:{endpoint.login}"
        max_bytes = (self.allowed + 1) * self.max_size + 16 * 1024 * 1024
        context = self.folders.env["mcl.mailbox.mixin"]._mcl_ssl_context()
        with replies.session(endpoint, context, timeout, deadline + probe.DEADLINE_SLACK, self.max_size,
                             max_bytes) as client:
            for folder in replies.reply_folders(client):
                state = self.folders._state(self.mailbox, folder, account)
                scan = replies.scan_folder(client, folder, state, since, budget, self.verdict, self.post)
                self.folders._remember(self.mailbox, scan, account)
                self.complete &= scan.complete
        self.downloaded = self.allowed - budget.messages

    def verdict(self, candidate):
        """"reply" when the candidate answers an email that left from this mailbox to its sender."""
        threading_ = self._threading(candidate.headers)
        if not threading_ or threading_.message_id in self.seen:
            return "ignore"
        self.seen.add(threading_.message_id)
        Message = self.env["mail.message"].sudo()
        if Message.search_count([("message_id", "=", threading_.message_id)], limit=1):
            return "ignore"  # in Odoo already (an earlier check, the catchall)
        document = self._routed_document(threading_)
        if not document or not self._anchor(threading_, document):
            return "ignore"
        if candidate.size > self.max_size:
            self.counts["too_large"] += 1
            return "too_large"
        return "reply"

    def _threading(self, raw):
        """The threading of a message, read as Odoo's mail gateway reads it, or None when it has none or
        its headers cannot be read: anyone can write to the mailbox, and Python's email parser raises on
        some broken headers (a Message-ID "<"); such a message is left alone, never a stop of the check."""
        try:
            headers = email.parser.BytesParser(policy=email.policy.SMTP).parsebytes(raw, headersonly=True)
            message_id = decode_message_header(headers, "Message-Id").strip()
            references = decode_message_header(headers, "References")
            in_reply_to = decode_message_header(headers, "In-Reply-To").strip()
            sender = email_normalize(decode_message_header(headers, "From"))
        except Exception as error:  # whatever the parser raises, the message is not read
            _logger.info("A message in mailbox %s has unreadable headers (%s): left alone", self.mailbox.id,
                         type(error).__name__)
            return None
        if not message_id or "\x00" in message_id + references + in_reply_to:
            return None
        # What mail.thread.message_route looks at: References, else In-Reply-To, the latest 32.
        routed = [ref.strip() for ref in unfold_references(references or in_reply_to)
                  if "reply_to" not in ref][-REFERENCES_ROUTED:]
        named = unfold_references(f"{references} {in_reply_to}")
        return _Threading(message_id, routed, named, sender)

    def _routed_document(self, threading_):
        """(model, id) the mail gateway will post the message on: its latest known reference, as Odoo picks it."""
        message = self.env["mail.message"].sudo().search(
            [("message_id", "in", threading_.routed)], limit=1, order="id desc") if threading_.routed else None
        if not message or not message.model or not message.res_id or message.model not in self.env:
            return None
        return message.model, message.res_id

    def _anchor(self, threading_, document):
        """An email on ``document`` named by the headers, that left from this mailbox to the sender, if any."""
        if not threading_.sender:
            return None
        messages = self.env["mail.message"].sudo().search([
            ("message_id", "in", threading_.named), ("model", "=", document[0]), ("res_id", "=", document[1]),
        ])
        return next((message for message in messages if self._sent_to(message, threading_.sender)), None)

    def _sent_to(self, message, sender):
        """Whether ``message`` left from this mailbox to ``sender``: the mail queue's rule, from the message.

        Its recipients are those it was emailed to: a colleague who follows the document and was only
        notified in Odoo never received it, and a "reply" with their address is someone else's."""
        writer = message.create_uid
        record = self.env[message.model].browse(message.res_id)
        emailed = message.notification_ids.filtered(lambda notification: notification.notification_type == "email")
        recipients = message.partner_ids.filtered("partner_share") | emailed.res_partner_id
        return (
            message.message_type not in ("email", "user_notification")
            and email_normalize(message.email_from) == self.mailbox.mcl_email
            and message.author_id == writer.partner_id
            and self.mailbox._mcl_may_send_for(writer, record)
            and sender in recipients.mapped("email_normalized")
        )

    def post(self, candidate, raw):
        """Post one reply through Odoo's mail gateway; a failure leaves it in the mailbox only.

        The message downloaded is judged again, on its own headers: they are what the gateway routes on,
        and a server may show other header fields than the message it then sends."""
        threading_ = self._threading(candidate.headers)
        document = self._routed_document(threading_)
        anchor = self._anchor(threading_, document)
        downloaded = self._threading(raw)
        thread_id = False
        if downloaded != threading_ or self._routed_document(downloaded) != document:
            _logger.warning("A reply in mailbox %s is not the message its header fields showed: left alone",
                            self.mailbox.id)
            self.counts["failed"] += 1
            return
        record = self.env[document[0]].sudo().browse(document[1])
        try:
            with self.env.cr.savepoint():
                if anchor.author_id not in record.message_partner_ids:  # the sender hears of the answer
                    record.message_subscribe(partner_ids=anchor.author_id.ids)
                # A patient's attachment is theirs: account must not read it as an e-invoice (it would update
                # a draft from it, or have OdooBot say under a posted one that it did not).
                gateway = self.env["mail.thread"].sudo().with_context(no_new_invoice=True)
                thread_id = gateway.message_process(False, raw)
        except Exception as error:  # the message stays in the mailbox; counted, never raised
            _logger.warning("A reply in mailbox %s could not be posted (%s)", self.mailbox.id, type(error).__name__)
        self.counts["posted" if thread_id else "failed"] += 1

    def summary(self):
        """What the check found, in the owner's words."""
        _ = self.env._
        parts = [_("Replies brought into Odoo: %(count)s", count=self.counts["posted"])]
        if self.counts["too_large"]:
            parts.append(_("too large, left in the mailbox: %(count)s", count=self.counts["too_large"]))
        if self.counts["failed"]:
            parts.append(_("could not be posted, left in the mailbox: %(count)s", count=self.counts["failed"]))
        if not self.complete:
            parts.append(_("more at the next check"))
        return "; ".join(parts)
