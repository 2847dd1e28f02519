from odoo import fields, models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    mcl_mail_server_id = fields.Many2one(
        "ir.mail_server", string="Mailbox", index="btree_not_null", ondelete="cascade", readonly=True,
        help="The personal mailbox this to-do is about: it closes when the mailbox sends again.",
    )
