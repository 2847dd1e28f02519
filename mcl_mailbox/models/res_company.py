from odoo import fields, models

EMAIL_LAYOUTS = {
    "personal": "mcl_mailbox.mail_notification_layout_personal",
    "odoo": "mail.mail_notification_layout",
}


class ResCompany(models.Model):
    _inherit = "res.company"

    mcl_email_layout = fields.Selection(
        [("personal", "Personal email"), ("odoo", "Odoo layout")],
        string="Layout of emails from personal mailboxes",
        default="personal",
        required=True,
        help="Personal email: the message, the sender's signature and the practice's name, as from a mail "
        "client; a link to the document only for recipients who use the portal. Odoo layout: Odoo's "
        "button to view the document, the company footer and “Powered by Odoo”.",
    )

    def _mcl_email_layout_xmlid(self):
        """The notification layout of the emails that leave through this company's personal mailboxes."""
        self.ensure_one()
        return EMAIL_LAYOUTS[self.mcl_email_layout or "personal"]
