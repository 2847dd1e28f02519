from odoo import _, models
from odoo.tools import email_normalize, html2plaintext, is_html_empty, plaintext2html
from odoo.tools.mail import append_content_to_html

# Failures a personal mailbox causes (connection, login, refusal while sending):
# the email is kept and sent again once the owner fixes the mailbox.
MAILBOX_FAILURES = ("mail_smtp", "unknown")


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _split_by_mail_configuration(self):
        """Send through a personal mailbox only the mail its owner wrote.

        Odoo routes by sender address; a message another user writes with that
        address as sender goes through Odoo's other servers instead, so nobody
        sends from someone else's mailbox.
        """
        IrMailServer = self.env["ir.mail_server"].sudo()
        for server_id, alias_domain_id, smtp_from, batch_ids in super()._split_by_mail_configuration():
            mailbox = IrMailServer.browse(server_id)
            if not mailbox.owner_user_id:
                yield server_id, alias_domain_id, smtp_from, batch_ids
                continue
            batch = self.browse(batch_ids)
            owned = batch.filtered(lambda mail, owner=mailbox.owner_user_id: mail.author_id == owner.partner_id)
            if owned:
                yield server_id, alias_domain_id, smtp_from, owned.ids
            if others := batch - owned:
                shared = IrMailServer.search([("owner_user_id", "=", False)], order="sequence, id")
                server, fallback_from = IrMailServer._find_mail_server(smtp_from, shared)
                if not server:
                    # Odoo's command-line settings send it, as the notifications address: the
                    # mailbox's own address would lead the connection back to that mailbox.
                    fallback_from = IrMailServer._get_default_from_address() or False
                yield server.id if server else False, alias_domain_id, fallback_from, others.ids

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        """Add the personal mailbox's signature to what leaves through it."""
        emails = super()._prepare_outgoing_list(mail_server, recipients_follower_status)
        signature = mail_server and mail_server.sudo().owner_user_id and mail_server.sudo().mcl_signature
        if signature and not is_html_empty(signature):
            for email in emails:
                email["body"] = append_content_to_html(email["body"], signature, plaintext=False)
                email["body_alternative"] = html2plaintext(email["body"])
        return emails

    # ------------------------------------------------------------------
    # Failures: the owner is told, and the email waits for the fix
    # ------------------------------------------------------------------

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        """Keep the failed email of a personal mailbox and tell its owner what to do."""
        if failure_type in MAILBOX_FAILURES:
            self._mcl_report_failure(failure_type)
        return super()._postprocess_sent_message(success_pids, failure_reason=failure_reason,
                                                 failure_type=failure_type)

    def _mcl_report_failure(self, failure_type):
        mailboxes = self.env["ir.mail_server"].sudo().search([("owner_user_id", "!=", False)])
        by_address = {mailbox.mcl_email: mailbox for mailbox in mailboxes}
        for mail in self.sudo():
            mailbox = by_address.get(email_normalize(mail.email_from))
            if not mailbox or mail.author_id != mailbox.owner_user_id.partner_id:
                continue
            mail.failure_type = failure_type
            in_owner_lang = mail.with_context(lang=mailbox.owner_user_id.lang)
            if not mailbox.mcl_last_error:
                mailbox._mcl_record_problem(in_owner_lang._mcl_failure_diagnosis())
            in_owner_lang._mcl_schedule_fix_activity(mailbox)

    def _mcl_failure_diagnosis(self):
        return "\n".join([
            _("Outgoing mail (SMTP): sending failed."),
            _("What to do: check the mailbox at your provider, then open it and click "
              "“Test connection and save”: the waiting emails then leave again."),
            _("Server reply: %s", self.failure_reason or _("none")),
        ])

    def _mcl_schedule_fix_activity(self, mailbox):
        """One to-do per document for the owner, on the document whose email waits."""
        owner = mailbox.owner_user_id
        record = self._mcl_activity_record()
        activity_type = self.env.ref("mcl_mailbox.mail_activity_type_mailbox_failure")
        if record.activity_ids.filtered(lambda a: a.activity_type_id == activity_type and a.user_id == owner):
            return
        note = _(
            "The email “%(subject)s” could not leave through your mailbox “%(mailbox)s”.\n\n%(diagnosis)s\n\n"
            "Open Preferences > Mailboxes, click Change on this mailbox, then “Test connection and save”.",
            subject=self.subject or "", mailbox=mailbox.name, diagnosis=mailbox.mcl_diagnosis or "",
        )
        record.activity_schedule(
            "mcl_mailbox.mail_activity_type_mailbox_failure", user_id=owner.id, note=plaintext2html(note),
        )

    def _mcl_activity_record(self):
        """The document of the email when it takes activities, else the owner's contact."""
        if self.model and self.res_id and "activity_ids" in self.env[self.model]._fields:
            record = self.env[self.model].browse(self.res_id).exists()
            if record:
                return record
        return self.author_id

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
            mail._mcl_activity_record().activity_feedback(
                ["mcl_mailbox.mail_activity_type_mailbox_failure"], user_id=mailbox.owner_user_id.id,
                feedback=_("The mailbox works again: the email is queued to be sent."),
            )
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
