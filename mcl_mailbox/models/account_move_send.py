from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    """Send invoices with the sender's template, from a personal mailbox the sender may use.

    The sender is the user who clicked "Send": the current user, or for the
    list's batch (run by a cron as the superuser) the user who started it, as
    the server recorded it (``account.move._mcl_batch_sender``), never the
    ``sending_data`` any invoicing user can write.  A sender who may use no
    personal mailbox gets Odoo's behaviour unchanged.
    """

    _inherit = "account.move.send"

    @api.model
    def _get_alerts(self, moves, moves_data):
        """Say before the click that the PDF cannot be made, rather than failing after it."""
        alerts = super()._get_alerts(moves, moves_data)
        needs_pdf = moves.filtered(lambda move: not move.invoice_pdf_report_id)
        state = self.env["ir.actions.report"].get_wkhtmltopdf_state()
        if needs_pdf and state in ("install", "broken"):
            alerts["mcl_mailbox_wkhtmltopdf"] = {
                "level": "danger",
                "message": self.env._(
                    "The PDF of the invoice cannot be created: wkhtmltopdf is missing or does not work on "
                    "the Odoo server. Ask your administrator to install it (on Debian or Ubuntu: "
                    "“sudo apt-get install wkhtmltopdf”) and to restart Odoo, then send again."
                ),
            }
        elif needs_pdf and state == "upgrade":
            alerts["mcl_mailbox_wkhtmltopdf"] = {
                "level": "warning",
                "message": self.env._(
                    "The wkhtmltopdf of the Odoo server is older than 0.12: the invoice's PDF may look wrong. "
                    "Ask your administrator to install a recent one (on Debian or Ubuntu: "
                    "“sudo apt-get install wkhtmltopdf”)."
                ),
            }
        return alerts

    @api.model
    def _get_default_mail_template_id(self, move):
        if move.move_type == "out_invoice" and (template := self._mcl_invoice_template(move)):
            return template
        return super()._get_default_mail_template_id(move)

    @api.model
    def _get_default_sending_settings(self, move, from_cron=False, **custom_settings):
        """Keep the mailbox chosen in the wizard; in the batch, render as the user who started it."""
        sender = from_cron and self._mcl_sender(move)
        if not sender:
            settings = super()._get_default_sending_settings(move, from_cron=from_cron, **custom_settings)
        else:
            settings = super(AccountMoveSend, self.with_user(sender))._get_default_sending_settings(
                move.with_user(sender), from_cron=from_cron, **custom_settings
            )
            settings.update(author_user_id=sender.id, author_partner_id=sender.partner_id.id,
                            pdf_report=settings["pdf_report"].with_env(self.env))
        settings["mcl_mailbox_id"] = custom_settings.get("mcl_mailbox_id") or False
        return settings

    @api.model
    def _get_default_mail_body(self, move, mail_template, mail_lang):
        """The body as it will leave: a template's salesperson signature gives way to the mailbox's."""
        body = super()._get_default_mail_body(move, mail_template, mail_lang)
        mailbox = self._mcl_sending_mailbox(move, self._mcl_sender(move))
        return move._mcl_without_signatures(body, mailbox) if mailbox and body else body

    @api.model
    def _get_mail_params(self, move, move_data):
        params = super()._get_mail_params(move, move_data)
        if params:
            params["mcl_mailbox_id"] = move_data.get("mcl_mailbox_id") or False
        return params

    @api.model
    def _send_mails(self, moves_data):
        result = super()._send_mails(moves_data)
        if any(self._mcl_queued(move) for move in moves_data):
            self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
        return result

    @api.model
    def _send_mail(self, move, mail_template, **kwargs):
        """Send as the sender, from the mailbox they send from, so that the mail queue sends it there.

        The email is written as the sender, in the batch too: the mail queue
        checks who wrote an email before sending it through a personal mailbox.
        The stock template's sender is the salesperson; the From is the
        mailbox's owner and address.  In a batch, the email is queued: the mail
        queue then sends the whole batch through one SMTP connection per mailbox.
        """
        sender = self._mcl_sender(move)
        if move.sending_data and sender:
            move = move.with_user(sender).sudo()
        mailbox = self._mcl_sending_mailbox(move, sender, kwargs.pop("mcl_mailbox_id", False))
        if not mailbox:
            return super()._send_mail(move, mail_template, **kwargs)
        kwargs["email_from"] = mailbox._mcl_from_address()
        move = move.with_context(mcl_mailbox_author_id=kwargs["author_id"])
        if self._mcl_queued(move):
            move = move.with_context(mail_notify_force_send=False)
        return super()._send_mail(move, mail_template, **kwargs)

    @api.model
    def _mcl_queued(self, move):
        """Whether the email of ``move`` waits in the mail queue: batches sent from a personal mailbox do."""
        return bool(move.sending_data) and bool(self._mcl_sending_mailbox(move, self._mcl_sender(move)))

    @api.model
    def _mcl_sender(self, move):
        """The user who sends ``move``: in the batch cron (superuser), whoever started the batch; else the
        current user, even while the invoice waits in someone's batch."""
        return move._mcl_batch_sender() if move.sending_data and self.env.su else self.env.user

    @api.model
    def _mcl_offered_mailboxes(self, move, sender):
        """The mailboxes ``sender`` may send ``move`` from: their own, and the salesperson's when they
        are its delegate (a delegate never sends another practitioner's invoice from a colleague's box)."""
        if not sender:
            return self.env["ir.mail_server"].sudo()
        return sender._mcl_usable_mailboxes().filtered(lambda mailbox: mailbox._mcl_may_send_for(sender, move))

    @api.model
    def _mcl_sending_mailbox(self, move, sender, chosen_id=False):
        """The personal mailbox ``move`` leaves from when ``sender`` sends it, or an empty recordset.

        Among the offered mailboxes: the one chosen in the wizard, else the salesperson's, else the
        sender's default one, else their first own one.
        """
        offered = self._mcl_offered_mailboxes(move, sender)
        return (
            offered.filtered(lambda mailbox: mailbox.id == chosen_id)
            or offered.filtered(lambda mailbox: mailbox.owner_user_id == move.invoice_user_id)
            or offered & (sender._mcl_default_mailbox() if sender else offered.browse())
            or offered.filtered(lambda mailbox: mailbox.owner_user_id == sender)
        )[:1]

    @api.model
    def _mcl_invoice_template(self, move):
        """The sender's invoice template preference, else that of the mailbox's owner they send for."""
        sender = self._mcl_sender(move)
        if not sender:
            return self.env["mail.template"]
        owner = self._mcl_sending_mailbox(move, sender).owner_user_id
        for user in sender | owner:
            template = user._mcl_invoice_template()
            if template and sender._mcl_invoice_template_fits(template):
                return template.with_env(self.env)
        return self.env["mail.template"]
