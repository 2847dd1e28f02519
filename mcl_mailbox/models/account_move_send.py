from email.utils import formataddr

from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    """Send invoices with the sender's template, from a personal mailbox the sender may use.

    The sender is the user who clicked "Send": the current user, or for the
    list's batch (run by a cron as the superuser) the user who started it, as
    the server recorded it (``account.move._mcl_batch_sender``), never the
    ``sending_data`` any invoicing user can write.  A sender who may use no
    personal mailbox gets Odoo's behaviour unchanged.
    """

    _inherit = "account.move.send"

    @api.model
    def _get_default_mail_template_id(self, move):
        if move.move_type == "out_invoice" and (template := self._mcl_invoice_template(move)):
            return template
        return super()._get_default_mail_template_id(move)

    @api.model
    def _get_default_sending_settings(self, move, from_cron=False, **custom_settings):
        """In the batch, render the email as the user who started it, never as the superuser."""
        sender = from_cron and self._mcl_sender(move)
        if not sender:
            return super()._get_default_sending_settings(move, from_cron=from_cron, **custom_settings)
        settings = super(AccountMoveSend, self.with_user(sender))._get_default_sending_settings(
            move.with_user(sender), from_cron=from_cron, **custom_settings
        )
        settings.update(author_user_id=sender.id, author_partner_id=sender.partner_id.id,
                        pdf_report=settings["pdf_report"].with_env(self.env))
        return settings

    @api.model
    def _send_mails(self, moves_data):
        result = super()._send_mails(moves_data)
        if any(self._mcl_queued(move) for move in moves_data):
            self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
        return result

    @api.model
    def _send_mail(self, move, mail_template, **kwargs):
        """Send as the sender, from the mailbox they send from, so that the mail queue sends it there.

        The email is written as the sender, in the batch too: the mail queue
        checks who wrote an email before sending it through a personal mailbox.
        The stock template's sender is the salesperson; the From is the
        mailbox's owner and address.  In a batch, the email is queued: the mail
        queue then sends the whole batch through one SMTP connection per mailbox.
        """
        sender = self._mcl_sender(move)
        if move.sending_data and sender:
            move = move.with_user(sender).sudo()
        mailbox = self._mcl_sending_mailbox(move, sender)
        if not mailbox:
            return super()._send_mail(move, mail_template, **kwargs)
        kwargs["email_from"] = formataddr((mailbox.owner_user_id.name, mailbox.mcl_email))
        move = move.with_context(mcl_mailbox_author_id=kwargs["author_id"])
        if self._mcl_queued(move):
            move = move.with_context(mail_notify_force_send=False)
        return super()._send_mail(move, mail_template, **kwargs)

    @api.model
    def _mcl_queued(self, move):
        """Whether the email of ``move`` waits in the mail queue: batches sent from a personal mailbox do."""
        return bool(move.sending_data) and bool(self._mcl_sending_mailbox(move, self._mcl_sender(move)))

    @api.model
    def _mcl_sender(self, move):
        """The user who sends ``move``: in the batch cron (superuser), whoever started the batch; else the
        current user, even while the invoice waits in someone's batch."""
        return move._mcl_batch_sender() if move.sending_data and self.env.su else self.env.user

    @api.model
    def _mcl_sending_mailbox(self, move, sender):
        """The personal mailbox ``move`` leaves from when ``sender`` sends it, or an empty recordset.

        The salesperson's mailbox if the sender may use it (as its owner or a
        delegate), else the sender's own: a delegate sends from a colleague's
        mailbox only that colleague's invoices.
        """
        usable = self.env["ir.mail_server"].sudo()
        if sender:
            usable = usable.search(
                ["|", ("owner_user_id", "=", sender.id), ("mcl_delegate_user_ids", "in", sender.ids)],
                order="sequence, id",
            ).filtered(lambda mailbox: mailbox._mcl_may_be_used_by(sender))
        for owner in (move.invoice_user_id, sender):
            if mailbox := usable.filtered(lambda mailbox, owner=owner: mailbox.owner_user_id == owner)[:1]:
                return mailbox
        return usable.browse()

    @api.model
    def _mcl_invoice_template(self, move):
        """The sender's invoice template preference, else that of the mailbox's owner they send for."""
        sender = self._mcl_sender(move)
        if not sender:
            return self.env["mail.template"]
        owner = self._mcl_sending_mailbox(move, sender).owner_user_id
        for user in sender | owner:
            template = user._mcl_invoice_template()
            if template and sender._mcl_invoice_template_fits(template):
                return template.with_env(self.env)
        return self.env["mail.template"]
