import hashlib
import json
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import email_normalize, email_normalize_all, html2plaintext, str2bool
from odoo.tools.mail import append_content_to_html, email_split_and_format_normalize

# Failures a personal mailbox causes (connection, login, refusal while sending):
# the email is kept and sent again once the owner fixes the mailbox.
MAILBOX_FAILURES = ("mail_smtp", "unknown")
# An email whose connection was lost after its content went out: it may have left.
FATE_UNKNOWN = "mcl_fate_unknown"
# Automatic retries after a passing problem: RETRY_FIRST seconds, doubled each time up to RETRY_LONGEST,
# for RETRY_FOR; then the email waits for its owner like the others.
RETRY_FIRST, RETRY_LONGEST, RETRY_FOR = 30, 1800, timedelta(days=1)


class MailMail(models.Model):
    _inherit = "mail.mail"

    # What the email carried when its writer created it: subject, sender, Reply-To, author and
    # attachments live on its mail.message, which others who may write the document can change.
    mcl_fingerprint = fields.Char(string="Content fingerprint", groups=fields.NO_ACCESS, copy=False, readonly=True)
    failure_type = fields.Selection(selection_add=[(FATE_UNKNOWN, "Maybe sent (connection lost while sending)")],
                                    ondelete={FATE_UNKNOWN: "set null"})
    mcl_retry_count = fields.Integer(string="Automatic retries", readonly=True, copy=False)
    mcl_first_failure = fields.Datetime(string="First failed on", readonly=True, copy=False)

    @api.model_create_multi
    def create(self, vals_list):
        """Fingerprint the emails that may leave through a personal mailbox (those from its address)."""
        mails = super().create(vals_list)
        addresses = self.env["ir.mail_server"]._mcl_mailboxes_by_address()
        for mail in mails.sudo().filtered(lambda mail: email_normalize(mail.email_from) in addresses):
            mail.mcl_fingerprint = mail._mcl_current_fingerprint()
        return mails

    def _mcl_current_fingerprint(self):
        """A digest of what others could change between the email's creation and its sending."""
        self.ensure_one()
        mail = self.sudo()
        content = [mail.subject, mail.email_from, mail.reply_to, mail.author_id.id,
                   sorted((attachment.id, attachment.checksum) for attachment in mail.attachment_ids)]
        return hashlib.sha256(json.dumps(content, default=str).encode()).hexdigest()

    def _split_by_mail_configuration(self):
        """Send through a personal mailbox only the mail its owner, or a colleague they named, wrote.

        Odoo's own split never picks a personal mailbox (see ``ir.mail_server._find_mail_server``);
        each email that ``_mcl_personal_mailbox`` allows is moved to its mailbox, and an email that
        names a personal mailbox without being allowed goes through the shared servers instead.
        """
        IrMailServer = self.env["ir.mail_server"].sudo()
        mailboxes = self.env["ir.mail_server"]._mcl_mailboxes_by_address()
        for server_id, alias_domain_id, smtp_from, batch_ids in super()._split_by_mail_configuration():
            by_sender = self.browse(batch_ids).grouped(lambda mail: mail._mcl_sender_key(mailboxes))
            for (mailbox, mailbox_from), mails in by_sender.items():
                if mailbox:
                    yield mailbox.id, alias_domain_id, mailbox_from, mails.ids
                elif IrMailServer.browse(server_id).owner_user_id:
                    shared_id, shared_from = self._mcl_shared_configuration(smtp_from)
                    yield shared_id, alias_domain_id, shared_from, mails.ids
                else:
                    yield server_id, alias_domain_id, smtp_from, mails.ids

    def _mcl_sender_key(self, mailboxes):
        """(personal mailbox, From) this email leaves with, or (empty, False) for Odoo's servers."""
        mailbox = self._mcl_personal_mailbox(mailboxes)
        if not mailbox:
            return mailbox, False
        formatted = email_split_and_format_normalize(self.email_from)
        return mailbox, formatted[0] if formatted else self.email_from

    def _mcl_shared_configuration(self, smtp_from):
        """(server id, From) of a shared server for an email refused by the personal mailbox it names."""
        IrMailServer = self.env["ir.mail_server"].sudo()
        shared = IrMailServer.search([("owner_user_id", "=", False)], order="sequence, id")
        server, fallback_from = IrMailServer._find_mail_server(smtp_from, shared)
        if not server:
            # Odoo's command-line settings send it, as the notifications address.
            fallback_from = IrMailServer._get_default_from_address() or False
        return server.id if server else False, fallback_from

    def _mcl_personal_mailbox(self, mailboxes=None):
        """The personal mailbox this email may leave through, or an empty recordset.

        It is the active mailbox of the email's sender address, when the user who created the email in
        Odoo (``create_uid``: set by the ORM, the real user even in sudo) may use it, its author is
        that user, it is not an incoming email relayed to followers, and nobody changed its subject,
        sender, Reply-To, author or attachments since. ``author_id``, ``email_from`` and
        ``mail_server_id`` alone, which any caller sets, never decide.
        """
        self.ensure_one()
        mail = self.sudo()
        if mailboxes is None:
            mailboxes = self.env["ir.mail_server"]._mcl_mailboxes_by_address()
        mailbox = mailboxes.get(email_normalize(mail.email_from)) or self.env["ir.mail_server"]
        writer = mail.create_uid
        if (
            not mailbox
            or mail.message_type in ("email", "user_notification")
            or (mail.mail_server_id and mail.mail_server_id != mailbox)
            or not mailbox._mcl_may_send_for(writer, mail._mcl_document())
            or mail.author_id != writer.partner_id
            or mail.mcl_fingerprint != mail._mcl_current_fingerprint()
        ):
            return self.env["ir.mail_server"]
        return mailbox

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        """What leaves through a personal mailbox is signed once and answered to the mailbox.

        The signature is normally in place already, after the body (``mail.thread`` layouts); an email
        written without a layout gets it at its end.  The Reply-To becomes the mailbox unless Odoo
        receives its catchall, or the writer chose another address.
        """
        emails = super()._prepare_outgoing_list(mail_server, recipients_follower_status)
        mailbox = mail_server and mail_server.sudo().owner_user_id and mail_server
        if not mailbox:
            return emails
        signature = mailbox._mcl_signature()
        reply_to = self._mcl_reply_to(mailbox)
        for email in emails:
            if signature and not self._mcl_signed(email["body"], signature):
                email["body"] = append_content_to_html(email["body"], signature, plaintext=False)
                email["body_alternative"] = html2plaintext(email["body"])
            email["reply_to"] = reply_to
        return emails

    @api.model
    def _mcl_signed(self, body, signature):
        """Whether the layout placed the signature already (marked, or as it is when no link was rewritten)."""
        return 'class="o_mcl_signature"' in body or str(signature) in body

    def _mcl_reply_to(self, mailbox):
        """The Reply-To of this email when it leaves through ``mailbox``."""
        self.ensure_one()
        if self._mcl_catchall_routed() or not self._mcl_is_odoo_reply_to(self.reply_to, mailbox):
            return self.reply_to
        return mailbox._mcl_from_address()

    def _mcl_is_odoo_reply_to(self, reply_to, mailbox):
        """Whether ``reply_to`` is one Odoo made (empty, its catchall, bounce or an alias, or the
        writer's own address) rather than one the writer chose."""
        addresses = email_normalize_all(reply_to or "")
        domains = self.env["mail.alias.domain"].sudo().search([])
        odoo_made = {mailbox.sudo().mcl_email, email_normalize(self.sudo().author_id.email)}
        odoo_made |= set(domains.mapped("catchall_email")) | set(domains.mapped("bounce_email"))
        odoo_made |= set(self.env["mail.alias"].sudo().search([("alias_full_name", "in", addresses)])
                         .mapped("alias_full_name"))
        return all(address in odoo_made for address in addresses)

    @api.model
    def _mcl_catchall_routed(self):
        """Whether replies to Odoo's catchall reach Odoo: said so in Settings, or an incoming server is confirmed."""
        if str2bool(self.env["ir.config_parameter"].sudo().get_param("mcl_mailbox.catchall_routed", "False")):
            return True
        return bool(self.env["fetchmail.server"].sudo().search_count([("state", "=", "done")], limit=1))

    # ------------------------------------------------------------------
    # Failures: retried when passing, else kept for the owner, who is told once per mailbox
    # ------------------------------------------------------------------

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        """Retry, keep or flag the emails a personal mailbox failed to send.

        An email failed by a passing problem (provider down, slow, "try later") goes back to the queue
        for a later try; one that may have left (connection lost after its content) waits for its
        owner's choice; the others wait for the mailbox's fix.  Nothing is written here that the
        invoice send job writes too: the owners are told afterwards, in their own transaction
        (``ir.mail_server._cron_mcl_report_failures``).  The notifications, which colleagues read,
        get a generic reason: the server's reply stays on the email and the mailbox.
        """
        if failure_type not in MAILBOX_FAILURES:
            if self.sudo().filtered("mcl_retry_count"):  # a retried email left (or failed otherwise): update the to-do
                self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_report_failures")._trigger()
            return super()._postprocess_sent_message(success_pids, failure_reason=failure_reason,
                                                     failure_type=failure_type)
        mailboxes = self.env["ir.mail_server"]._mcl_mailboxes_by_address()
        by_kind = self.sudo().grouped(lambda mail: mail._mcl_failure_kind(mailboxes))
        retried = by_kind.pop("retry", self.browse())
        retried._mcl_retry_later()
        kept = self.browse().concat(*by_kind.values()).with_env(self.env)
        if by_kind.keys() - {"shared"}:
            failure_reason = (_("The connection to the sender's mailbox was lost while sending it: it may have "
                                "left. Its owner has been asked to check.") if "fate_unknown" in by_kind
                              else _("The sender's mailbox could not send it; its owner has been told what to do."))
            self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_report_failures")._trigger()
        result = super(MailMail, kept)._postprocess_sent_message(success_pids, failure_reason=failure_reason,
                                                                 failure_type=failure_type)
        by_kind.get("owner", self.browse()).write({"failure_type": failure_type})
        maybe_sent = by_kind.get("fate_unknown", self.browse())
        maybe_sent.write({"failure_type": FATE_UNKNOWN})
        # Not "failed" in the chatter either: its red envelope opens Odoo's Resend, to any colleague, which would
        # send it again behind the owner's back. The invoice and the owner's to-do say it may have left.
        notifications = self.env["mail.notification"].sudo().search([
            ("mail_mail_id", "in", maybe_sent.ids), ("notification_type", "=", "email"),
            ("notification_status", "in", ("exception", "bounce")),
        ])
        notifications.write({"notification_status": "ready", "failure_type": False, "failure_reason": False})
        notifications.flush_recordset()  # a search on the messages' errors does not flush it
        self.env.cr.precommit.data.pop("mcl_mailbox.failures", None)  # said of this failure only
        return result

    def _mcl_failure_kind(self, mailboxes):
        """What to do with this failed email: ``shared`` (not a personal mailbox's), ``retry``,
        ``fate_unknown`` or ``owner`` (wait for the fix), as the mailbox noted it while failing."""
        mailbox = self._mcl_personal_mailbox(mailboxes)
        if not mailbox:
            return "shared"
        failures = self.env.cr.precommit.data.get("mcl_mailbox.failures", {})
        kind = failures.pop(("message", self.message_id), None) or failures.get(("mailbox", mailbox.id), "owner")
        if kind == "retry" and self.mcl_first_failure and \
                fields.Datetime.now() - self.mcl_first_failure > RETRY_FOR:
            return "owner"  # it did not pass in a day: the owner must look
        return kind

    def _mcl_retry_later(self):
        """Queue these emails again for a later try, further apart each time (RETRY_FIRST seconds, doubled,
        at most RETRY_LONGEST); the mail queue's cron runs again then."""
        if not self:
            return
        now = fields.Datetime.now()
        for count, mails in self.grouped("mcl_retry_count").items():
            mails.write({
                "state": "outgoing", "failure_type": False, "mcl_retry_count": count + 1,
                "scheduled_date": now + timedelta(seconds=min(RETRY_FIRST * 2 ** count, RETRY_LONGEST)),
            })
        for mail in self.filtered(lambda mail: not mail.mcl_first_failure):
            mail.mcl_first_failure = now
        # Odoo marks them failed while it sends: they wait, they have not failed.
        self.env["mail.notification"].sudo().search([
            ("mail_mail_id", "in", self.ids), ("notification_type", "=", "email"),
            ("notification_status", "not in", ("sent", "canceled")),
        ]).write({"notification_status": "ready", "failure_type": False, "failure_reason": False})
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger(min(self.mapped("scheduled_date")))

    def _mcl_failure_diagnosis(self):
        return "\n".join([
            self.env._("Outgoing mail (SMTP): sending failed."),
            self.env._("What to do: check the mailbox at your provider, then open it and click "
                       "“Test connection and save”: the waiting emails then leave again."),
            self.env._("Server reply: %s", self.failure_reason or self.env._("none")),
        ])

    @api.model
    def _mcl_waiting_for(self, mailbox):
        """The emails waiting because of ``mailbox``: retried, kept for its fix, or of unknown fate."""
        mails = self.sudo().search([
            ("email_from", "ilike", mailbox.mcl_email), "|",
            "&", ("state", "=", "outgoing"), ("mcl_retry_count", ">", 0),
            "&", ("state", "=", "exception"), ("failure_type", "in", (*MAILBOX_FAILURES, FATE_UNKNOWN)),
        ])
        mailboxes = {mailbox.mcl_email: mailbox}
        return mails.filtered(lambda mail: mail._mcl_personal_mailbox(mailboxes) == mailbox)

    def _mcl_document(self):
        """The document this email is about, or an empty recordset."""
        if self.model and self.res_id and self.model in self.env:
            return self.env[self.model].browse(self.res_id).exists()
        return self.env["ir.mail_server"].browse()

    def _mcl_requeue(self, mailbox):
        """Queue the failed emails again, without the recipients already served; close the to-dos."""
        served = self.env["mail.notification"].sudo().search([
            ("mail_mail_id", "in", self.ids), ("notification_status", "=", "sent"),
        ])
        for notification in served:
            notification.mail_mail_id.recipient_ids -= notification.res_partner_id
        done = self.filtered(lambda mail: not mail.recipient_ids and not mail.email_to and not mail.email_cc)
        done.write({"state": "sent", "failure_reason": False})
        (self - done).write({"state": "outgoing", "failure_reason": False, "failure_type": False,
                             "mcl_retry_count": 0, "mcl_first_failure": False, "scheduled_date": False})
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
        self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_report_failures")._trigger()
