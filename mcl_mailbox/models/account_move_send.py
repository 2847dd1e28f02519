from email.utils import formataddr

from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    """Send invoices with the sender's own template, from the sender's own mailbox.

    The sender is the user who clicked "Send": the current user, or for the
    list's batch (run by a cron as the superuser) the ``author_user_id`` kept
    in the invoice's ``sending_data``.  A sender without a personal mailbox
    gets Odoo's behaviour unchanged.
    """

    _inherit = "account.move.send"

    @api.model
    def _get_default_mail_template_id(self, move):
        user = self._mcl_sending_user(move)
        if move.move_type == "out_invoice" and user.mcl_invoice_template_id:
            return user.mcl_invoice_template_id
        return super()._get_default_mail_template_id(move)

    @api.model
    def _send_mails(self, moves_data):
        result = super()._send_mails(moves_data)
        if any(self._mcl_queued(move, data["author_partner_id"]) for move, data in moves_data.items()):
            self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
        return result

    @api.model
    def _send_mail(self, move, mail_template, **kwargs):
        """Send as the author, from the author's mailbox address, so that Odoo routes it there.

        The stock template's sender is the salesperson; the author is who
        sends.  In a batch, the email is queued: the mail queue then sends
        the whole batch through one SMTP connection per mailbox.
        """
        mailbox = self._mcl_mailbox_of_partner(kwargs["author_id"])
        if not mailbox:
            return super()._send_mail(move, mail_template, **kwargs)
        kwargs["email_from"] = formataddr((mailbox.owner_user_id.name, mailbox.mcl_email))
        move = move.with_context(mcl_mailbox_author_id=kwargs["author_id"])
        if self._mcl_queued(move, kwargs["author_id"]):
            move = move.with_context(mail_notify_force_send=False)
        return super()._send_mail(move, mail_template, **kwargs)

    @api.model
    def _mcl_queued(self, move, author_partner_id):
        """Whether the email of ``move`` waits in the mail queue: batches of a mailbox owner do."""
        return bool(move.sending_data) and bool(self._mcl_mailbox_of_partner(author_partner_id))

    @api.model
    def _mcl_sending_user(self, move):
        """The user who sends ``move``: the batch's author, else the current user."""
        author_id = (move.sending_data or {}).get("author_user_id")
        return self.env["res.users"].browse(author_id) if author_id else self.env.user

    @api.model
    def _mcl_mailbox_of_partner(self, partner_id):
        """The active personal mailbox whose owner is ``partner_id``, if any."""
        return self.env["ir.mail_server"].sudo().search(
            [("owner_user_id.partner_id", "=", partner_id)], order="sequence, id", limit=1
        )
