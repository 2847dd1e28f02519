from odoo import models
from odoo.tools import html2plaintext, is_html_empty
from odoo.tools.mail import append_content_to_html


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _split_by_mail_configuration(self):
        """Send through a personal mailbox only the mail its owner wrote.

        Odoo routes by sender address; a message another user writes with that
        address as sender goes through Odoo's other servers instead, so nobody
        sends from someone else's mailbox.
        """
        IrMailServer = self.env["ir.mail_server"].sudo()
        for server_id, alias_domain_id, smtp_from, batch_ids in super()._split_by_mail_configuration():
            mailbox = IrMailServer.browse(server_id)
            if not mailbox.owner_user_id:
                yield server_id, alias_domain_id, smtp_from, batch_ids
                continue
            batch = self.browse(batch_ids)
            owned = batch.filtered(lambda mail, owner=mailbox.owner_user_id: mail.author_id == owner.partner_id)
            if owned:
                yield server_id, alias_domain_id, smtp_from, owned.ids
            if others := batch - owned:
                shared = IrMailServer.search([("owner_user_id", "=", False)], order="sequence, id")
                server, fallback_from = IrMailServer._find_mail_server(smtp_from, shared)
                yield server.id if server else False, alias_domain_id, fallback_from, others.ids

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        """Add the personal mailbox's signature to what leaves through it."""
        emails = super()._prepare_outgoing_list(mail_server, recipients_follower_status)
        signature = mail_server and mail_server.sudo().owner_user_id and mail_server.sudo().mcl_signature
        if signature and not is_html_empty(signature):
            for email in emails:
                email["body"] = append_content_to_html(email["body"], signature, plaintext=False)
                email["body_alternative"] = html2plaintext(email["body"])
        return emails
