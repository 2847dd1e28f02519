from odoo import fields, models


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

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "mcl_mailbox_ids", "mcl_invoice_template_id"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return [*super().SELF_WRITEABLE_FIELDS, "mcl_invoice_template_id"]

    def action_mcl_add_mailbox(self):
        """Open the form to connect a new mailbox of the current user."""
        return self.env["ir.mail_server"].action_mcl_add_mailbox()
