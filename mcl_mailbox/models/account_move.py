from odoo import api, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    # Who really started the list's batch sending: ``sending_data`` is a plain field any invoicing user
    # writes, this one is set by the server only (see ``_mcl_batch_sender``).
    mcl_batch_sender_id = fields.Many2one("res.users", string="Batch sending started by", groups=fields.NO_ACCESS,
                                          copy=False, readonly=True)

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

    def _message_compute_author(self, author_id=None, email_from=None, raise_on_email=True):
        """Author an invoice email sent from a personal mailbox as its sender.

        ``account.move.send`` drops the author and Odoo then guesses it from
        the sender address; the sender, not the mailbox's owner, is the author.
        """
        if author_id is None and self.env.context.get("mcl_mailbox_author_id"):
            author_id = self.env.context["mcl_mailbox_author_id"]
        return super()._message_compute_author(author_id=author_id, email_from=email_from,
                                               raise_on_email=raise_on_email)
