from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    mcl_mailbox_ids = fields.One2many(
        "ir.mail_server",
        "owner_user_id",
        string="My mailboxes",
        context={"active_test": False},
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "mcl_mailbox_ids"]

    def action_mcl_add_mailbox(self):
        """Open the form to connect a new mailbox of the current user."""
        return self.env["ir.mail_server"].action_mcl_add_mailbox()
