from odoo import _, api, fields, models


class AccountMoveSendWizard(models.TransientModel):
    """Show which mailbox the invoice email will leave from."""

    _inherit = "account.move.send.wizard"

    mcl_sent_from = fields.Char(string="Sent from", compute="_compute_mcl_sent_from")
    mcl_sent_from_hint = fields.Char(compute="_compute_mcl_sent_from")

    @api.depends("move_id")
    @api.depends_context("uid")
    def _compute_mcl_sent_from(self):
        for wizard in self:
            mailbox = wizard._mcl_sending_mailbox(wizard.move_id, self.env.user)
            wizard.mcl_sent_from = f"{mailbox.name} <{mailbox.mcl_email}>" if mailbox else False
            wizard.mcl_sent_from_hint = wizard._mcl_sent_from_hint(mailbox)

    def _mcl_sent_from_hint(self, mailbox):
        owner = mailbox.owner_user_id
        if not mailbox:
            return _("No personal mailbox: the email leaves from the company's mail server. "
                     "Connect your own mailbox in Preferences > Mailboxes to send from your address.")
        if mailbox.mcl_state == "attention":
            if owner != self.env.user:
                return _("The mailbox of %s needs attention: the email will wait until they fix it.", owner.name)
            return _("Your mailbox needs attention: the email will wait until you fix it "
                     "in Preferences > Mailboxes.")
        if owner != self.env.user:
            return _("Sent on behalf of %s, from their mailbox, with their signature.", owner.name)
        return False
