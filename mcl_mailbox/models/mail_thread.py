import re

from markupsafe import Markup

from odoo import api, models
from odoo.tools import email_normalize, html2plaintext, is_html_empty

from .ir_mail_server import responsible_user


class MailThread(models.AbstractModel):
    """What a practitioner writes in Odoo leaves from their mailbox, signed once, where they sign.

    The mail queue decides at sending time whether an email goes through a personal mailbox
    (``mail.mail._mcl_personal_mailbox``); this model prepares what the recipient reads: the From
    of the writer's default mailbox, the signature after the body and the mailbox's layout.
    """

    _inherit = "mail.thread"

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, *, message_type="notification", **kwargs):
        """A user who writes a message without naming a sender writes from their default mailbox.

        Only messages the user writes (``comment``): Odoo's own notifications (assignments, tracking)
        keep Odoo's sender and servers.
        """
        user = self.env.user
        if (message_type == "comment" and kwargs.get("email_from") is None and not user.share
                and kwargs.get("author_id") in (None, user.partner_id.id)):
            mailbox = user._mcl_default_mailbox()
            if mailbox and all(mailbox._mcl_may_send_for(user, record) for record in self):
                kwargs["email_from"] = mailbox._mcl_from_address()
        return super().message_post(message_type=message_type, **kwargs)

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
        if mailbox and all(mailbox._mcl_may_send_for(user, record) for record in self):
            return mailbox
        return mailbox.browse()

    def _mcl_without_signatures(self, body, mailbox):
        """A template-rendered ``body`` without the Odoo signature it ends with, which the mailbox's replaces.

        Templates sign with the document's salesperson or responsible (``object.invoice_user_id.signature``),
        or with the current user; only such a signature, at the very end of the body (and the line breaks
        before it), is taken out: never text elsewhere.
        """
        users = self.env.user | mailbox.sudo().owner_user_id
        for record in self:
            users |= responsible_user(record)
        text = str(body)
        for signature in {str(user.signature) for user in users.sudo() if not is_html_empty(user.signature)}:
            ending = re.search(r"(?:\s*<br\s*/?>)*\s*" + re.escape(signature) + r"(?=(?:\s|</[a-z0-9]+>)*$)", text)
            if ending:
                text = text[:ending.start()] + text[ending.end():]
        # Safe: ``body`` was Markup already, and only a signature was taken out of it.
        return Markup(text)  # noqa: S704

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
            # the composer's mass mode renders a message without its From: the composer says it
            values["email_from"] if "email_from" in values
            else self.env.context.get("mcl_composer_email_from") or message.email_from,
            values["message_type"] if "message_type" in values else message.message_type,
        )
        if mailbox:
            signature = mailbox._mcl_signature()
            company = render_values.get("company")
            render_values.update(
                mcl_mailbox=mailbox,
                # The class marks the signature as placed: the mail queue does not add it again.
                signature=Markup('<div class="o_mcl_signature">%s</div>') % signature if signature else "",
                email_add_signature=bool(signature),
                mcl_practice_name=company.name if company and company.name not in html2plaintext(signature or "")
                else False,
            )
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
