from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ResUsers(models.Model):
    _inherit = "res.users"

    mcl_mailbox_ids = fields.One2many(
        "ir.mail_server",
        "owner_user_id",
        string="My mailboxes",
        context={"active_test": False},
    )
    mcl_invoice_template_id = fields.Many2one(
        "mail.template",
        string="Default invoice email template",
        domain=[("model", "=", "account.move")],
        help="Preselected when you send a customer invoice by email; "
        "when empty, Odoo's own invoice template is used. Credit notes keep their own template.",
    )
    mcl_default_mailbox_id = fields.Many2one(
        "ir.mail_server",
        string="Default mailbox",
        domain="['|', ('owner_user_id', '=', id), ('mcl_delegate_user_ids', 'in', id)]",
        copy=False,
        help="The mailbox your emails leave from; the composer and the invoice send wizard let you pick "
        "another one. When empty, your first mailbox.",
    )

    @api.constrains("mcl_default_mailbox_id")
    def _check_mcl_default_mailbox_id(self):
        """Only a mailbox its user owns or was named a delegate of, and may send from."""
        for user in self.filtered("mcl_default_mailbox_id"):
            if user.mcl_default_mailbox_id not in user._mcl_usable_mailboxes():
                raise ValidationError(_("The default mailbox must be one of your own mailboxes, or one a "
                                        "colleague lets you send from."))

    @api.constrains("mcl_invoice_template_id")
    def _check_mcl_invoice_template_id(self):
        """Only an invoice template its user may read: the preference is rendered for their invoices."""
        for user in self.filtered("mcl_invoice_template_id"):
            if not user._mcl_invoice_template_fits(user.mcl_invoice_template_id):
                raise ValidationError(_("The default invoice template must be an email template of invoices "
                                        "(Journal Entry) that you can read."))

    def _mcl_invoice_template_fits(self, template):
        """Whether ``template`` is an invoice template this user may read."""
        self.ensure_one()
        return template.sudo().model == "account.move" and template.with_user(self).has_access("read")

    def _mcl_invoice_template(self):
        """This user's invoice template preference, when it still fits; else an empty recordset."""
        self.ensure_one()
        template = self.sudo().mcl_invoice_template_id
        return template if template and self._mcl_invoice_template_fits(template) else template.browse()

    def _mcl_usable_mailboxes(self):
        """The mailboxes this user may send from (owned or delegated), as superuser, by sequence."""
        self.ensure_one()
        mailboxes = self.env["ir.mail_server"].sudo().search(
            ["|", ("owner_user_id", "=", self.id), ("mcl_delegate_user_ids", "in", self.ids)], order="sequence, id",
        )
        return mailboxes.filtered(lambda mailbox: mailbox._mcl_may_be_used_by(self))

    def _mcl_default_mailbox(self):
        """The mailbox this user's emails leave from: their preference while they may still use it, else their
        first own mailbox; else an empty recordset."""
        self.ensure_one()
        usable = self._mcl_usable_mailboxes()
        default = self.sudo().mcl_default_mailbox_id
        if default in usable:
            return default
        return usable.filtered(lambda mailbox: mailbox.owner_user_id == self)[:1]

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "mcl_mailbox_ids", "mcl_invoice_template_id", "mcl_default_mailbox_id"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return [*super().SELF_WRITEABLE_FIELDS, "mcl_invoice_template_id", "mcl_default_mailbox_id"]

    def action_mcl_add_mailbox(self):
        """Open the form to connect a new mailbox of the current user."""
        return self.env["ir.mail_server"].action_mcl_add_mailbox()
