from odoo import _, api, fields, models


class AccountMoveSendWizard(models.TransientModel):
    """Choose which mailbox the invoice email leaves from."""

    _inherit = "account.move.send.wizard"

    mcl_mail_server_id = fields.Many2one(
        "ir.mail_server",
        string="Sent from",
        compute="_compute_mcl_mail_server_id",
        store=True,
        readonly=False,
        domain="[('id', 'in', mcl_usable_mailbox_ids)]",
        help="The mailbox the invoice leaves from: the salesperson's when you may send from it, else yours.",
    )
    mcl_usable_mailbox_ids = fields.Many2many("ir.mail_server", string="Mailboxes offered",
                                              compute="_compute_mcl_usable_mailbox_ids")
    mcl_sent_from_hint = fields.Char(compute="_compute_mcl_sent_from_hint")

    @api.depends("move_id")  # a field the form sets when it opens: the list is computed then
    @api.depends_context("uid")
    def _compute_mcl_usable_mailbox_ids(self):
        for wizard in self:
            wizard.mcl_usable_mailbox_ids = wizard._mcl_offered_mailboxes(wizard.move_id, self.env.user)

    @api.depends("move_id")
    def _compute_mcl_mail_server_id(self):
        for wizard in self:
            wizard.mcl_mail_server_id = wizard._mcl_sending_mailbox(wizard.move_id, self.env.user)

    @api.depends("mcl_mail_server_id")
    @api.depends_context("uid")
    def _compute_mcl_sent_from_hint(self):
        for wizard in self:
            wizard.mcl_sent_from_hint = wizard._mcl_sent_from_hint(wizard.mcl_mail_server_id.sudo())

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

    def _get_sending_settings(self):
        """Hand the chosen mailbox to the sending (``account.move.send`` checks that the sender may use it)."""
        settings = super()._get_sending_settings()
        settings["mcl_mailbox_id"] = self.mcl_mail_server_id.id
        return settings
