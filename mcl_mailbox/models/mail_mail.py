import hashlib
import json

from odoo import _, api, fields, models
from odoo.tools import email_normalize, email_normalize_all, html2plaintext, plaintext2html, str2bool
from odoo.tools.mail import append_content_to_html, email_split_and_format_normalize

# Failures a personal mailbox causes (connection, login, refusal while sending):
# the email is kept and sent again once the owner fixes the mailbox.
MAILBOX_FAILURES = ("mail_smtp", "unknown")


class MailMail(models.Model):
    _inherit = "mail.mail"

    # What the email carried when its writer created it: subject, sender, Reply-To, author and
    # attachments live on its mail.message, which others who may write the document can change.
    mcl_fingerprint = fields.Char(string="Content fingerprint", groups=fields.NO_ACCESS, copy=False, readonly=True)

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
    # Failures: the owner is told, and the email waits for the fix
    # ------------------------------------------------------------------

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        """Keep the failed email of a personal mailbox and tell its owner what to do.

        The notifications, which colleagues read, get a generic reason: the server's reply, its host
        and the login stay on the email and the mailbox, for the owner and administrators.
        """
        if failure_type in MAILBOX_FAILURES and self._mcl_report_failure(failure_type) and failure_reason:
            failure_reason = _("The sender's mailbox could not send it; its owner has been told what to do.")
        return super()._postprocess_sent_message(success_pids, failure_reason=failure_reason,
                                                 failure_type=failure_type)

    def _mcl_report_failure(self, failure_type):
        """Tell the owners of the personal mailboxes these emails failed through; return those emails."""
        mailboxes = self.env["ir.mail_server"]._mcl_mailboxes_by_address()
        reported = self.browse()
        for mail in self.sudo():
            mailbox = mail._mcl_personal_mailbox(mailboxes)
            if not mailbox:
                continue
            reported |= mail
            mail.failure_type = failure_type
            in_owner_lang = mail.with_context(lang=mailbox.owner_user_id.lang)
            if not mailbox.mcl_last_error:
                mailbox._mcl_record_problem(in_owner_lang._mcl_failure_diagnosis())
            in_owner_lang._mcl_schedule_fix_activity(mailbox)
        return reported

    def _mcl_failure_diagnosis(self):
        return "\n".join([
            _("Outgoing mail (SMTP): sending failed."),
            _("What to do: check the mailbox at your provider, then open it and click "
              "“Test connection and save”: the waiting emails then leave again."),
            _("Server reply: %s", self.failure_reason or _("none")),
        ])

    def _mcl_schedule_fix_activity(self, mailbox):
        """One to-do per document for the owner, on the document whose email waits.

        Colleagues who read the document read the to-do too: it says where to look, never the login,
        the servers or their reply, which only the mailbox shows its owner.
        """
        owner = mailbox.owner_user_id
        record = self._mcl_activity_record(mailbox)
        activity_type = self.env.ref("mcl_mailbox.mail_activity_type_mailbox_failure")
        if record.activity_ids.filtered(lambda a: a.activity_type_id == activity_type and a.user_id == owner):
            return
        note = _(
            "The email “%(subject)s” could not leave through your mailbox “%(mailbox)s”.\n\n"
            "Open Preferences > Mailboxes: the mailbox says what went wrong. Click Change on it, "
            "then “Test connection and save”.",
            subject=self.subject or "", mailbox=mailbox.name,
        )
        record.activity_schedule(
            "mcl_mailbox.mail_activity_type_mailbox_failure", user_id=owner.id, note=plaintext2html(note),
        )

    def _mcl_document(self):
        """The document this email is about, or an empty recordset."""
        if self.model and self.res_id and self.model in self.env:
            return self.env[self.model].browse(self.res_id).exists()
        return self.env["ir.mail_server"].browse()

    def _mcl_activity_record(self, mailbox):
        """The document of the email when it takes activities, else the owner's contact."""
        record = self._mcl_document()
        return record if record and "activity_ids" in record._fields else mailbox.owner_user_id.partner_id

    def _mcl_requeue(self, mailbox):
        """Queue the failed emails again, without the recipients already served; close the to-dos."""
        served = self.env["mail.notification"].sudo().search([
            ("mail_mail_id", "in", self.ids), ("notification_status", "=", "sent"),
        ])
        for notification in served:
            notification.mail_mail_id.recipient_ids -= notification.res_partner_id
        done = self.filtered(lambda mail: not mail.recipient_ids and not mail.email_to and not mail.email_cc)
        done.write({"state": "sent", "failure_reason": False})
        (self - done).write({"state": "outgoing", "failure_reason": False, "failure_type": False})
        for mail in self:
            mail._mcl_activity_record(mailbox).activity_feedback(
                ["mcl_mailbox.mail_activity_type_mailbox_failure"], user_id=mailbox.owner_user_id.id,
                feedback=_("The mailbox works again: the email is queued to be sent."),
            )
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
