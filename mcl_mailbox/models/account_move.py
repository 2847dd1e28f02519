from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _message_compute_author(self, author_id=None, email_from=None, raise_on_email=True):
        """Author an invoice email sent from a personal mailbox as its sender.

        ``account.move.send`` drops the author and Odoo then guesses it from
        the sender address; the mailbox's owner must be the author for the
        email to leave through their mailbox.
        """
        if author_id is None and self.env.context.get("mcl_mailbox_author_id"):
            author_id = self.env.context["mcl_mailbox_author_id"]
        return super()._message_compute_author(author_id=author_id, email_from=email_from,
                                               raise_on_email=raise_on_email)
