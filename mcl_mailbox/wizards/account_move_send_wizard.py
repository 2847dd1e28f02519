from odoo import _, api, fields, models


class AccountMoveSendWizard(models.TransientModel):
    """Show which mailbox the invoice email will leave from."""

    _inherit = "account.move.send.wizard"

    mcl_sent_from = fields.Char(string="Sent from", compute="_compute_mcl_sent_from")
    mcl_sent_from_hint = fields.Char(compute="_compute_mcl_sent_from")

    @api.depends("move_id")
    @api.depends_context("uid")
    def _compute_mcl_sent_from(self):
        mailbox = self._mcl_mailbox_of_partner(self.env.user.partner_id.id)
        sent_from = f"{mailbox.name} <{mailbox.mcl_email}>" if mailbox else False
        if not mailbox:
            hint = _("No personal mailbox: the email leaves from the company's mail server. "
                     "Connect your own mailbox in Preferences > Mailboxes to send from your address.")
        elif mailbox.mcl_state == "attention":
            hint = _("Your mailbox needs attention: the email will wait until you fix it "
                     "in Preferences > Mailboxes.")
        else:
            hint = False
        self.mcl_sent_from = sent_from
        self.mcl_sent_from_hint = hint
