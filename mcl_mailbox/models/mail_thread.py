import re

from markupsafe import Markup

from odoo import api, models
from odoo.tools import email_normalize, is_html_empty


class MailThread(models.AbstractModel):
    """What a practitioner writes in Odoo leaves from their mailbox, signed once, where they sign.

    The mail queue decides at sending time whether an email goes through a personal mailbox
    (``mail.mail._mcl_personal_mailbox``); this model prepares what the recipient reads: the From
    of the writer's default mailbox, the signature after the body and the mailbox's layout.
    """

    _inherit = "mail.thread"

    def _message_compute_author(self, author_id=None, email_from=None, raise_on_email=True):
        """A user who writes without naming a sender writes from their default mailbox."""
        user = self.env.user
        if email_from is None and author_id in (None, user.partner_id.id) and not user.share:
            if mailbox := user._mcl_default_mailbox():
                return user.partner_id.id, mailbox._mcl_from_address()
        return super()._message_compute_author(author_id, email_from, raise_on_email)

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, *, body="", **kwargs):
        """Drop from the body the signatures a template put there: the mailbox signs once, after it."""
        author_id, email_from = self._message_compute_author(
            kwargs.get("author_id"), kwargs.get("email_from"), raise_on_email=False
        )
        mailbox = self._mcl_writer_mailbox(author_id, email_from, kwargs.get("message_type", "notification"))
        if mailbox and isinstance(body, Markup):
            body = self._mcl_without_signatures(body, mailbox)
        return super().message_post(body=body, **kwargs)

    def _mcl_writer_mailbox(self, author_id, email_from, message_type):
        """The personal mailbox a message by the current user from ``email_from`` leaves through, if any.

        The same conditions as the mail queue's: the current user writes it as themselves, from the
        address of a mailbox they may use, and it is not an incoming email.
        """
        mailbox = self.env["ir.mail_server"]
        user = self.env.user
        if message_type == "email" or not email_from or author_id != user.partner_id.id:
            return mailbox
        mailbox = mailbox._mcl_mailboxes_by_address().get(email_normalize(email_from)) or mailbox
        return mailbox if mailbox and mailbox._mcl_may_be_used_by(user) else mailbox.browse()

    def _mcl_without_signatures(self, body, mailbox):
        """``body`` without the Odoo signatures of the writer, the owner and the document's users.

        Templates sign with the salesperson or the responsible (``object.invoice_user_id.signature``);
        such a signature, and the line breaks before it, give way to the mailbox's.
        """
        users = self.env.user | mailbox.sudo().owner_user_id
        user_fields = [name for name, field in self._fields.items() if field.comodel_name == "res.users"
                       and field.type == "many2one" and name not in ("create_uid", "write_uid")]
        for record in self.sudo():
            for name in user_fields:
                users |= record[name]
        for signature in {str(user.signature) for user in users.sudo() if not is_html_empty(user.signature)}:
            # Safe: ``body`` was Markup already, and only a signature is taken out of it.
            body = Markup(re.sub(r"(?:\s*<br\s*/?>)*\s*" + re.escape(signature), "", str(body)))  # noqa: S704
        return body

    def _notify_by_email_prepare_rendering_context(self, message, msg_vals=False, model_description=False,
                                                   force_email_company=False, force_email_lang=False):
        """Sign with the mailbox's signature the emails that leave through it."""
        render_values = super()._notify_by_email_prepare_rendering_context(
            message, msg_vals=msg_vals, model_description=model_description,
            force_email_company=force_email_company, force_email_lang=force_email_lang,
        )
        values = msg_vals or {}
        mailbox = self._mcl_writer_mailbox(
            values["author_id"] if "author_id" in values else message.author_id.id,
            values["email_from"] if "email_from" in values else message.email_from,
            values["message_type"] if "message_type" in values else message.message_type,
        )
        if mailbox:
            render_values.update(mcl_mailbox=mailbox, signature=mailbox._mcl_signature(), email_add_signature=True)
        return render_values

    def _notify_by_email_render_layout(self, message, recipients_group, msg_vals=False, render_values=None):
        """An email from a personal mailbox takes the layout its company chose for them."""
        if render_values and render_values.get("mcl_mailbox"):
            company = render_values.get("company") or self.env.company
            msg_vals = dict(msg_vals or {}, email_layout_xmlid=company._mcl_email_layout_xmlid())
            render_values = dict(render_values, mcl_online_link=self._mcl_online_link(recipients_group))
        return super()._notify_by_email_render_layout(
            message, recipients_group, msg_vals=msg_vals, render_values=render_values
        )

    def _mcl_online_link(self, recipients_group):
        """The document's link, for recipients who use the portal (they have an account), else False."""
        if not recipients_group.get("has_button_access"):
            return False
        partners = self.env["res.partner"].sudo().browse(recipients_group.get("recipients", []))
        return recipients_group.get("button_access") if partners.user_ids else False
