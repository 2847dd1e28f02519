from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mcl_email_layout = fields.Selection(related="company_id.mcl_email_layout", readonly=False)
    mcl_catchall_routed = fields.Boolean(
        string="Replies to the catchall reach Odoo",
        config_parameter="mcl_mailbox.catchall_routed",
        help="Tick it when the catchall address is forwarded to Odoo by your mail provider: emails from "
        "personal mailboxes then keep Odoo's Reply-To, and replies land on the document. Otherwise "
        "replies go to the sender's mailbox, unless an incoming mail server is confirmed.",
    )
