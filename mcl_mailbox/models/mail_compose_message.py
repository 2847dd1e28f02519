from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class MailComposeMessage(models.TransientModel):
    """Write from one of the sender's mailboxes: the From is its owner's name and its address."""

    _inherit = "mail.compose.message"

    mcl_mail_server_id = fields.Many2one(
        "ir.mail_server",
        string="Sent from",
        default=lambda self: self.env.user._mcl_default_mailbox(),
        domain="[('id', 'in', mcl_usable_mailbox_ids)]",
        help="The mailbox this email leaves from; your default one is set in Preferences > Mailboxes.",
    )
    mcl_usable_mailbox_ids = fields.Many2many("ir.mail_server", string="Mailboxes offered",
                                              compute="_compute_mcl_usable_mailbox_ids")

    @api.depends("composition_mode", "model", "res_ids")  # set when the form opens: the list is computed then
    @api.depends_context("uid")
    def _compute_mcl_usable_mailbox_ids(self):
        for composer in self:
            composer.mcl_usable_mailbox_ids = self.env.user._mcl_usable_mailboxes().filtered(
                lambda mailbox, composer=composer: composer._mcl_may_send_from(mailbox))

    def _mcl_may_send_from(self, mailbox):
        """Whether the current user may send this composer's email(s) through ``mailbox``."""
        self.ensure_one()
        records = self._evaluate_res_ids() if self.model and self.model in self.env else []
        documents = self.env[self.model].browse(records) if records else [self.env["ir.mail_server"]]
        return all(mailbox._mcl_may_send_for(self.env.user, document) for document in documents)

    @api.depends("mcl_mail_server_id")
    def _compute_authorship(self):
        """The chosen mailbox's From replaces the template's or the user's; the author stays the sender."""
        result = super()._compute_authorship()
        for composer in self.filtered("mcl_mail_server_id"):
            if composer.mcl_mail_server_id._mcl_may_be_used_by(self.env.user):
                composer.email_from = composer.mcl_mail_server_id._mcl_from_address()
                composer.author_id = self.env.user.partner_id
        return result

    @api.depends("mcl_mail_server_id")
    def _compute_mail_server_id(self):
        """No template's server for an email from a mailbox: it leaves through the mailbox of its From."""
        result = super()._compute_mail_server_id()
        self.filtered("mcl_mail_server_id").mail_server_id = False
        return result

    @api.constrains("mcl_mail_server_id")
    def _check_mcl_mail_server_id(self):
        """Only a mailbox the sender owns or was named a delegate of."""
        for composer in self.filtered("mcl_mail_server_id"):
            if composer.mcl_mail_server_id not in self.env.user._mcl_usable_mailboxes():
                raise ValidationError(_("You cannot send from this mailbox: only its owner and the colleagues "
                                        "they name can. Choose one of your own mailboxes."))

    def _action_send_mail(self, auto_commit=False):
        """Check the mailbox again when sending: the owner may have withdrawn the delegation since, and a
        delegate never sends a colleague's document from the owner's mailbox."""
        self._check_mcl_mail_server_id()
        for composer in self.filtered("mcl_mail_server_id"):
            if not composer._mcl_may_send_from(composer.mcl_mail_server_id):
                raise ValidationError(_("You cannot send this document from the mailbox of %s: another "
                                        "practitioner is responsible for it. Choose one of your own mailboxes.",
                                        composer.mcl_mail_server_id.sudo().owner_user_id.name))
        # The mass mode renders its layout from a message without a From: tell it the mailbox's.
        composers = self.with_context(mcl_composer_email_from=self.email_from) \
            if len(self) == 1 and self.mcl_mail_server_id else self
        return super(MailComposeMessage, composers)._action_send_mail(auto_commit=auto_commit)
