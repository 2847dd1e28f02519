import functools
import logging
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_datetime

from .mail_mail import FATE_UNKNOWN, MAILBOX_FAILURES

_logger = logging.getLogger(__name__)

# The send job runs again this long after a failed run (seconds), doubled after each failure, at most an hour.
JOB_RETRY_FIRST, JOB_RETRY_LONGEST = 60, 3600


class AccountMove(models.Model):
    _inherit = "account.move"

    # Who really started the list's batch sending: ``sending_data`` is a plain field any invoicing user
    # writes, this one is set by the server only (see ``_mcl_batch_sender``).
    mcl_batch_sender_id = fields.Many2one("res.users", string="Batch sending started by", groups=fields.NO_ACCESS,
                                          copy=False, readonly=True)
    mcl_sending_status = fields.Selection(
        [("queued", "Queued"), ("retrying", "Retried soon"), ("held", "Waiting for the mailbox"),
         ("fate_unknown", "Maybe sent")],
        string="Email status", compute="_compute_mcl_sending_status",
        help="Why the invoice's email has not left yet: queued for the send job, retried soon after a passing "
        "problem of the provider, waiting for its mailbox to be fixed, or maybe sent already (connection lost "
        "while sending: its owner checks the Sent folder).",
    )
    mcl_next_try = fields.Datetime(string="Next try", compute="_compute_mcl_sending_status")

    @api.model_create_multi
    def create(self, vals_list):
        moves = super().create(vals_list)
        for move, vals in zip(moves, vals_list, strict=True):
            if "sending_data" in vals:
                move._mcl_keep_batch_sender(vals["sending_data"])
        return moves

    def write(self, vals):
        result = super().write(vals)
        if "sending_data" in vals:
            self._mcl_keep_batch_sender(vals["sending_data"])
        return result

    def _mcl_keep_batch_sender(self, sending_data):
        """Record who starts a batch: the current user, when ``sending_data`` names them as its author."""
        author_id = sending_data.get("author_user_id") if isinstance(sending_data, dict) else None
        sender = self.env.user if author_id == self.env.uid else self.env["res.users"]
        self.sudo().mcl_batch_sender_id = sender

    def _mcl_batch_sender(self):
        """The active user who started this invoice's batch sending, or an empty recordset."""
        self.ensure_one()
        sender = self.sudo().mcl_batch_sender_id
        return sender.with_env(self.env) if sender.active else self.env["res.users"]

    # ------------------------------------------------------------------
    # The list's batch finishes by itself, and says what waits
    # ------------------------------------------------------------------

    @api.model
    def _cron_account_move_send(self, job_count=10):
        """Retry the send job soon when it fails, and tell the senders once how many invoices wait and why.

        Odoo's job runs once a day unless triggered: a run that fails (a concurrent update, a PDF that
        cannot be made...) or skips invoices another transaction locks would leave them waiting until
        the next day. A failed run triggers a new one once its transaction is rolled back, in a
        transaction of its own; a run that leaves invoices waiting triggers one a minute later.
        """
        try:
            result = super()._cron_account_move_send(job_count=job_count)
        except Exception as error:
            self.env.cr.postrollback.add(functools.partial(self._mcl_after_failed_run, error))
            raise
        if self.search_count([("sending_data", "!=", False)], limit=1):  # e.g. some were locked meanwhile
            self.env.ref("account.ir_cron_account_move_send")._trigger(
                fields.Datetime.now() + timedelta(seconds=JOB_RETRY_FIRST))
        return result

    @api.model
    def _mcl_after_failed_run(self, error):
        """Trigger the send job again (1 minute after a first failure, doubled after each one, at most an hour)
        and, at the first failure of a series, tell the senders."""
        try:
            with self.env.registry.cursor() as cr:
                env = self.env(cr=cr, su=True)
                cron = env.ref("account.ir_cron_account_move_send")
                delay = min(JOB_RETRY_FIRST * 2 ** cron.failure_count, JOB_RETRY_LONGEST)
                retry_at = fields.Datetime.now() + timedelta(seconds=delay)
                cron._trigger(retry_at)
                if not cron.failure_count:
                    env["account.move"]._mcl_tell_senders_of_delay(error, retry_at)
        except Exception:
            _logger.exception("The invoice send job failed and could not be scheduled again")

    @api.model
    def _mcl_tell_senders_of_delay(self, error, retry_at):
        """One notification per sender whose invoices wait: how many, why, and when Odoo tries again."""
        waiting = self.sudo().search([("sending_data", "!=", False)])
        # Whom the server recorded as starting the batch: ``sending_data`` names anyone its writer likes.
        for sender, moves in waiting.grouped("mcl_batch_sender_id").items():
            if sender:
                moves._mcl_bus_send_delay(error, retry_at, sender.partner_id)

    def _mcl_bus_send_delay(self, error, retry_at, partner):
        partner._bus_send("account_notification", self._mcl_delay_notification(error, retry_at, partner))

    def _mcl_delay_notification(self, error, retry_at, partner):
        user = partner.user_ids[:1]
        env = self.with_context(lang=partner.lang, tz=user.tz or "UTC").env
        _ = env._
        if isinstance(error, psycopg2.errors.SerializationFailure):
            why = _("another task was changing the same invoices at the same moment")
        elif isinstance(error, UserError):
            why = error.args[0]
        else:
            why = _("an unexpected error (the server log has the details)")
        return {
            "type": "warning",
            "title": _("Invoices waiting"),
            "message": _("%(count)s invoice(s) are waiting to be sent: %(why)s. Odoo tries again by itself at "
                         "%(time)s.", count=len(self), why=why,
                         time=format_datetime(env, retry_at, dt_format="short")),
            "action_button": {"name": _("Open"), "action_name": _("Invoices waiting"), "model": "account.move",
                              "res_ids": self.ids},
        }

    @api.depends("sending_data")
    def _compute_mcl_sending_status(self):
        """What the invoice's email waits for, from its emails in the mail queue."""
        Mail = self.env["mail.mail"].sudo()
        mails = Mail.search([
            ("model", "=", "account.move"), ("res_id", "in", self.ids), "|",
            "&", ("state", "=", "outgoing"), ("mcl_retry_count", ">", 0),
            "&", ("state", "=", "exception"), ("failure_type", "in", (*MAILBOX_FAILURES, FATE_UNKNOWN)),
        ]) if self.ids else Mail
        by_move = mails.grouped("res_id")
        for move in self:
            waiting = by_move.get(move.id, Mail)
            if waiting.filtered(lambda mail: mail.failure_type == FATE_UNKNOWN):
                move.mcl_sending_status = "fate_unknown"
            elif waiting.filtered(lambda mail: mail.state == "exception"):
                move.mcl_sending_status = "held"
            elif waiting:
                move.mcl_sending_status = "retrying"
            else:
                move.mcl_sending_status = "queued" if move.sending_data else False
            retries = waiting.filtered(lambda mail: mail.state == "outgoing").mapped("scheduled_date")
            move.mcl_next_try = min(retries) if retries else False

    def _mcl_check_owns_waiting_email(self, mails):
        """Only the owner of the mailbox an email waits on (or an administrator) decides what becomes of it."""
        mailboxes = self.env["ir.mail_server"]._mcl_mailboxes_by_address()
        for mail in mails:
            mailbox = mail._mcl_personal_mailbox(mailboxes)
            if not mailbox or not mailbox._mcl_may_be_changed_by(self.env.user):
                raise AccessError(self.env._("Only the owner of the mailbox this email was sent from can decide "
                                             "whether to send it again."))

    def _mcl_fate_unknown_mails(self):
        self.ensure_one()
        return self.env["mail.mail"].sudo().search([
            ("model", "=", "account.move"), ("res_id", "=", self.id),
            ("state", "=", "exception"), ("failure_type", "=", FATE_UNKNOWN),
        ])

    def action_mcl_send_again(self):
        """The owner found no trace of the email in their Sent folder: it leaves again."""
        mails = self._mcl_fate_unknown_mails()
        self._mcl_check_owns_waiting_email(mails)
        mails.write({"state": "outgoing", "failure_type": False, "failure_reason": False, "scheduled_date": False,
                     "mcl_retry_count": 0, "mcl_first_failure": False})  # retried again if the provider hiccups
        self._mcl_settle_notifications(mails, "ready")  # waiting to leave, not failed
        self._mcl_close_maybe_sent(self.env._("Sent again at the request of %s.", self.env.user.name))
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger()
        return True

    def action_mcl_confirm_sent(self):
        """The owner found the email in their Sent folder: it counts as sent, and is not sent again."""
        mails = self._mcl_fate_unknown_mails()
        self._mcl_check_owns_waiting_email(mails)
        mails.write({"state": "sent", "failure_type": False, "failure_reason": False})
        # Else the chatter and the owner's failures still show it failed, and Odoo's "Resend" sends it again.
        self._mcl_settle_notifications(mails, "sent")
        self._mcl_close_maybe_sent(self.env._("%s found the email in the Sent folder: it had left.",
                                              self.env.user.name))
        return True

    def _mcl_settle_notifications(self, mails, status):
        """The recipients' notifications of ``mails`` that had failed become ``status``, and the chatter says so."""
        notifications = self.env["mail.notification"].sudo().search([
            ("mail_mail_id", "in", mails.ids), ("notification_type", "=", "email"),
            ("notification_status", "in", ("ready", "exception", "bounce")),
        ])
        notifications.write({"notification_status": status, "failure_type": False, "failure_reason": False})
        notifications.mail_message_id._notify_message_notification_update()

    def _mcl_close_maybe_sent(self, feedback):
        self.sudo().activity_feedback(["mcl_mailbox.mail_activity_type_maybe_sent"], feedback=feedback)

    def _message_compute_author(self, author_id=None, email_from=None, raise_on_email=True):
        """Author an invoice email sent from a personal mailbox as its sender.

        ``account.move.send`` drops the author and Odoo then guesses it from
        the sender address; the sender, not the mailbox's owner, is the author.
        """
        if author_id is None and self.env.context.get("mcl_mailbox_author_id"):
            author_id = self.env.context["mcl_mailbox_author_id"]
        return super()._message_compute_author(author_id=author_id, email_from=email_from,
                                               raise_on_email=raise_on_email)

    # ------------------------------------------------------------------
    # One-click sending
    # ------------------------------------------------------------------

    # Seconds an email still waits once its Undo button is gone: Undo works while the click's reply travels.
    _mcl_undo_grace = 2
    # Seconds an email waits at least once rendered: an Undo that waited for the rendering still cancels it.
    _mcl_undo_rendering_margin = 5

    mcl_one_click_label = fields.Char(
        string="One-click send", compute="_compute_mcl_one_click_label",
        help="The label of the button that sends this invoice to its patient in one click, when the current "
             "user may (a default invoice template, a connected mailbox, a patient with an email address).",
    )

    @api.depends_context("uid")
    @api.depends("state", "move_type", "partner_id.email", "is_move_sent", "sending_data")
    def _compute_mcl_one_click_label(self):
        for move in self:
            if not move.id or move._mcl_one_click_refusal():
                move.mcl_one_click_label = False
            elif move.state == "draft":
                move.mcl_one_click_label = self.env._("Confirm and send")
            else:
                move.mcl_one_click_label = self.env._("Send to %s", move.partner_id.name)

    def _mcl_one_click_refusal(self):
        """Why the current user cannot send this invoice in one click, or False."""
        self.ensure_one()
        _ = self.env._
        patient = self.partner_id
        if self.move_type != "out_invoice" or self.state not in ("draft", "posted"):
            return _("%s is not a customer invoice to send.", self.display_name)
        if self.is_move_sent or self.sending_data:
            return _("%s has already been sent.", self.display_name)
        if not patient.email:
            return _("%(patient)s has no email address: add one on the contact to send %(invoice)s.",
                     patient=patient.name or "?", invoice=self.display_name)
        if patient.with_company(self.company_id).invoice_sending_method not in (False, "email"):
            return _("%(patient)s receives their invoices otherwise than by email (contact, Invoicing tab): "
                     "use Send for %(invoice)s.", patient=patient.name, invoice=self.display_name)
        return self._mcl_sender_refusal()

    def _mcl_sender_refusal(self):
        """Why the current user cannot send this invoice from their mailbox with their template, or False."""
        _ = self.env._
        sending = self.env["account.move.send"]
        mailbox = sending._mcl_sending_mailbox(self, self.env.user)
        if not mailbox:
            return _("Connect your mailbox in your Preferences to send %s in one click.", self.display_name)
        if not sending._mcl_invoice_template(self):
            return _("Choose a default invoice template in your Preferences to send %s in one click.",
                     self.display_name)
        if mailbox.mcl_state != "connected":
            return _("Your mailbox %(mailbox)s needs attention: open it in your Preferences and click "
                     "“Test connection and save”, then send %(invoice)s again.",
                     mailbox=mailbox.mcl_email, invoice=self.display_name)
        return False

    def action_mcl_send_now(self):
        """Send posted invoices in one click (the form's "Send to …", the list's "Send now")."""
        drafts = self.filtered(lambda move: move.state == "draft")
        if drafts:
            raise UserError(self.env._("Confirm %s before sending it.", ", ".join(drafts.mapped("display_name"))))
        return self._mcl_send_in_one_click()

    def action_mcl_confirm_and_send(self):
        """Confirm a draft invoice and send it in one click."""
        return self._mcl_send_in_one_click()

    def _mcl_send_in_one_click(self):
        """Queue each invoice's email (its sender's template, their mailbox, the PDF) and return at once.

        The send cron renders the PDF right away; the email waits in the mail queue until the undo delay
        is over. A single refusal sends nothing.
        """
        refusals = [refusal for move in self if (refusal := move._mcl_one_click_refusal())]
        if refusals or not self:
            raise UserError("\n".join(refusals) or self.env._("Select the invoices to send."))
        self.filtered(lambda move: move.state == "draft").action_post()
        delay = self._mcl_undo_delay()
        send_at = fields.Datetime.add(fields.Datetime.now(), seconds=delay + self._mcl_undo_grace)
        # Odoo marks the invoice as sent when the send job makes its PDF; until then it waits in the job.
        self.sending_data = {"author_user_id": self.env.uid, "author_partner_id": self.env.user.partner_id.id,
                             "mcl_send_at": fields.Datetime.to_string(send_at)}
        self.env.ref("account.ir_cron_account_move_send")._trigger()
        self.env.ref("mail.ir_cron_mail_scheduler_action")._trigger(send_at)
        return self._mcl_undo_notification(fields.Datetime.to_string(send_at), delay)

    def _mcl_undo_notification(self, send_at, delay):
        """The client action showing what was sent, with an Undo button for ``delay`` seconds."""
        _ = self.env._
        if len(self) == 1:
            patient = self.partner_id
            message = _("Invoice sent to %(patient)s (%(email)s)", patient=patient.name, email=patient.email)
        else:
            message = _("%s invoices sent to their patients", len(self))
        return {
            "type": "ir.actions.client",
            "tag": "mcl_mailbox_undo_send",
            "params": {"message": message, "move_ids": self.ids, "send_at": send_at, "delay": delay,
                       "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

    @api.model
    def _mcl_undo_delay(self):
        """Seconds the Undo button stays (system parameter ``mcl_mailbox.undo_delay``, default 10)."""
        value = self.env["ir.config_parameter"].sudo().get_param("mcl_mailbox.undo_delay", "10")
        try:
            return max(0, int(value))
        except ValueError:
            return 10

    def action_mcl_undo_send(self, send_at):
        """Cancel the emails of the click whose emails leave at ``send_at``, rendered or not, while they wait.

        The invoices, then their emails, are locked: a send cron rendering them, or a mail queue sending
        them, has either finished (Odoo then retries this call) or finds them cancelled.
        """
        moves = self._mcl_lock(self.exists())
        waiting = moves.filtered(lambda move: (move.sending_data or {}).get("mcl_send_at") == send_at
                                 and move.sending_data.get("author_user_id") == self.env.uid)
        mails = self._mcl_lock(self.env["mail.mail"].sudo().search([
            ("model", "=", "account.move"), ("res_id", "in", moves.ids), ("state", "=", "outgoing"),
            ("scheduled_date", ">=", send_at), ("create_uid", "=", self.env.uid),
        ]))
        # The mail queue takes an email once it is due, and locks it only when it writes its state: an email
        # due within a second may be leaving already.
        deadline = fields.Datetime.add(fields.Datetime.now(), seconds=1)
        mails = mails.filtered(lambda mail: mail.state == "outgoing" and mail.scheduled_date > deadline)
        mails.mail_message_id.notification_ids.filtered(
            lambda notification: notification.mail_mail_id in mails).notification_status = "canceled"
        mails.cancel()
        cancelled = waiting | moves.filtered(lambda move: move.id in mails.mapped("res_id"))
        waiting.sending_data = False
        cancelled.is_move_sent = False
        for move in cancelled:
            move.message_post(body=self.env._("%(user)s cancelled sending this invoice to %(patient)s: the email "
                                              "was not sent.", user=self.env.user.name, patient=move.partner_id.name))
        return self._mcl_undo_result(cancelled, moves - cancelled)

    def _mcl_lock(self, records):
        """``records``, locked until the end of the transaction and read afresh."""
        if records:
            self.env.cr.execute(f'SELECT id FROM "{records._table}" WHERE id IN %s FOR UPDATE',  # noqa: S608
                                [tuple(records.ids)])
            records.invalidate_recordset()
        return records

    def _mcl_undo_result(self, cancelled, gone):
        """The notification that says what Undo cancelled, and what had already left."""
        _ = self.env._
        if gone:
            message = _("Too late: the email of %s has already been sent.", ", ".join(gone.mapped("display_name")))
            kind = "warning"
        else:
            message = _("Sending cancelled: the email of %s will not be sent.",
                        ", ".join(cancelled.mapped("display_name")))
            kind = "info"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

    def _notify_by_email_get_base_mail_values(self, message, additional_values=None):
        """The email of a one-click send waits in the mail queue until its undo delay is over."""
        values = super()._notify_by_email_get_base_mail_values(message, additional_values=additional_values)
        send_at = (len(self) == 1 and self.env.context.get("mcl_mailbox_author_id")
                   and (self.sudo().sending_data or {}).get("mcl_send_at"))
        if send_at and self._mcl_batch_sender():
            # A rendering that outlasted the delay still leaves time for an Undo waiting for it to finish.
            soonest = fields.Datetime.add(fields.Datetime.now(), seconds=self._mcl_undo_rendering_margin)
            values["scheduled_date"] = max(fields.Datetime.to_datetime(send_at), soonest)
        return values
