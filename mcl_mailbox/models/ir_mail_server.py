import logging
import smtplib
import socket

from odoo import _, api, fields, models, modules
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from odoo.addons.base.models.ir_mail_server import SMTPConnection

from ..core import probe, vault
from .mail_mail import MAILBOX_FAILURES
from .mcl_mailbox_mixin import configured_ca_file, configured_keys

_logger = logging.getLogger(__name__)

# Version of the terms of use a mailbox owner accepts; a new version asks again.
TERMS_VERSION = "2026-11"

ENCRYPTION_SELECTION = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None")]


class IrMailServer(models.Model):
    """A personal mailbox is an outgoing server owned by one user.

    Odoo routes a message to it by ``from_filter`` (the mailbox address) and
    sends it through its queue; this model adds the owner, the IMAP side, the
    encrypted password, the signature, the consent and the connection state.
    """

    _name = "ir.mail_server"
    _inherit = ["ir.mail_server", "mcl.mailbox.mixin"]

    owner_user_id = fields.Many2one(
        "res.users",
        string="Owner",
        index=True,
        ondelete="cascade",
        help="The user this personal mailbox belongs to: only their messages leave through it.",
    )
    mcl_email = fields.Char(string="Email address", readonly=True, copy=False)
    mcl_login = fields.Char(string="Login", compute="_compute_mcl_login", compute_sudo=True)
    mcl_imap_host = fields.Char(string="IMAP server", readonly=True)
    mcl_imap_port = fields.Integer(string="IMAP port", readonly=True)
    mcl_imap_encryption = fields.Selection(ENCRYPTION_SELECTION, string="IMAP security", readonly=True)
    mcl_signature = fields.Html(string="Signature", readonly=True, help="Added to the emails sent from this mailbox.")
    mcl_consent_user_id = fields.Many2one("res.users", string="Terms accepted by", readonly=True, copy=False)
    mcl_consent_date = fields.Datetime(string="Terms accepted on", readonly=True, copy=False)
    mcl_consent_version = fields.Char(string="Terms version", readonly=True, copy=False)
    mcl_state = fields.Selection(
        [("connected", "Connected"), ("attention", "Needs attention")],
        string="Status",
        compute="_compute_mcl_state",
        search="_search_mcl_state",
    )
    mcl_last_error = fields.Text(string="Last problem", readonly=True, copy=False)
    mcl_diagnosis = fields.Text(string="Diagnosis", compute="_compute_mcl_state")
    mcl_diagnosis_date = fields.Datetime(string="Checked on", readonly=True, copy=False)

    _sql_constraints = [
        ("mcl_email_unique", "unique(mcl_email)", "This address is already connected as a personal mailbox."),
    ]

    @api.depends("smtp_user")
    def _compute_mcl_login(self):
        for server in self:
            server.mcl_login = server.smtp_user

    @api.depends("owner_user_id", "mcl_last_error", "mcl_consent_version", "mcl_password_token")
    def _compute_mcl_state(self):
        for server in self:
            server.mcl_diagnosis = server._mcl_attention_reason()
            server.mcl_state = "attention" if server.mcl_diagnosis else "connected"

    def _search_mcl_state(self, operator, value):
        if operator not in ("=", "!=") or value not in ("connected", "attention"):
            raise UserError(_("Unsupported search on the mailbox status."))
        personal = self.sudo().search([("owner_user_id", "!=", False)])
        attention = personal.filtered(lambda server: server._mcl_attention_reason())
        wanted_attention = (value == "attention") == (operator == "=")
        return [("id", "in" if wanted_attention else "not in", attention.ids)]

    def _mcl_attention_reason(self):
        """Why the owner must act on this mailbox, or False."""
        self.ensure_one()
        if not self.owner_user_id:
            return False
        if not vault.can_decrypt(configured_keys(), self.sudo().mcl_password_token):
            return _("Re-enter your app password: the stored one can no longer be used.")
        if self.mcl_consent_version != TERMS_VERSION:
            return _("The terms of use changed: open the mailbox and accept them again.")
        return self.mcl_last_error or False

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    @api.model
    def _find_mail_server(self, email_from, mail_servers=None):
        """Route to a personal mailbox only on its exact address.

        Personal mailboxes are removed from Odoo's fallbacks (domain match,
        notifications address, first server) so they never carry other mail.
        """
        if mail_servers is None:
            mail_servers = self.sudo().search([], order="sequence")
        personal = mail_servers.filtered("owner_user_id")
        normalized = email_normalize(email_from)
        if normalized:
            for mailbox in personal.filtered("active"):
                if mailbox.mcl_email == normalized:
                    return mailbox, email_from
        return super()._find_mail_server(email_from, mail_servers - personal)

    def connect(self, host=None, port=None, user=None, password=None, encryption=None, smtp_from=None,
                ssl_certificate=None, ssl_private_key=None, smtp_debug=False, mail_server_id=None,
                allow_archived=False):
        """Connect to a personal mailbox with a verified TLS certificate, for its owner only.

        Odoo's own connection does not check certificates; personal mailboxes
        carry a real password, so they do.  ``connect`` is public, hence callable
        over RPC: only the owner, an administrator or the mail queue (superuser)
        may make Odoo log in to a personal mailbox.  Other servers are left to Odoo.
        """
        mailbox = self._mcl_mailbox_to_connect(mail_server_id, host, smtp_from)
        if mailbox and not self.env.su:
            self.browse(mailbox.id).check_access("read")
        if not mailbox or modules.module.current_test:
            return super().connect(
                host=host, port=port, user=user, password=password, encryption=encryption, smtp_from=smtp_from,
                ssl_certificate=ssl_certificate, ssl_private_key=ssl_private_key, smtp_debug=smtp_debug,
                mail_server_id=mail_server_id, allow_archived=allow_archived,
            )
        if not allow_archived and not mailbox.active:
            raise UserError(_('The server "%s" cannot be used because it is archived.', mailbox.display_name))
        try:
            return mailbox._mcl_open_smtp(smtp_from, smtp_debug)
        except smtplib.SMTPResponseException:
            raise  # a refused login is explained by _smtp_login already
        except OSError as error:
            raise UserError(mailbox._mcl_connection_problem(error)) from None

    def _mcl_open_smtp(self, smtp_from, smtp_debug):
        """A logged-in SMTP connection to this mailbox, shaped like Odoo's own."""
        context = probe.make_ssl_context(configured_ca_file())
        connection = SMTPConnection(self.smtp_host, self.smtp_port, self.smtp_encryption, context=context)
        # One connection carries a whole batch: without this, each message waits for a delayed ACK.
        connection.__obj__.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.set_debuglevel(smtp_debug or self.smtp_debug)
        if self.smtp_encryption == "starttls":
            connection.starttls(context=context)
        self._smtp_login(connection, self.smtp_user, "")
        connection.ehlo_or_helo_if_needed()
        connection.from_filter = self.from_filter
        connection.smtp_from = smtp_from
        connection.mcl_mailbox_id = self.id
        return connection

    def _mcl_connection_problem(self, error):
        """Record why connecting failed (a certificate, a timeout, ...) and return it."""
        message = self._mcl_explain(probe.diagnose("smtp", error), self._mcl_endpoints("")[1])
        self._mcl_record_problem(message)
        return message

    def send_email(self, message, mail_server_id=None, smtp_server=None, smtp_port=None, smtp_user=None,
                   smtp_password=None, smtp_encryption=None, smtp_ssl_certificate=None, smtp_ssl_private_key=None,
                   smtp_debug=False, smtp_session=None):
        """Queue a copy for the Sent folder of the personal mailbox the message left through."""
        message_id = super().send_email(
            message, mail_server_id=mail_server_id, smtp_server=smtp_server, smtp_port=smtp_port,
            smtp_user=smtp_user, smtp_password=smtp_password, smtp_encryption=smtp_encryption,
            smtp_ssl_certificate=smtp_ssl_certificate, smtp_ssl_private_key=smtp_ssl_private_key,
            smtp_debug=smtp_debug, smtp_session=smtp_session,
        )
        mailbox = self.sudo().browse(getattr(smtp_session, "mcl_mailbox_id", None) or [])
        if mailbox.mcl_imap_host and not mailbox.mcl_provider_id.files_sent_copy:
            self.env["mcl.mailbox.sent.copy"].sudo()._enqueue(mailbox, message)
        return message_id

    def _mcl_mailbox_to_connect(self, mail_server_id, host, smtp_from):
        if mail_server_id:
            server = self.sudo().browse(mail_server_id)
        elif host:
            return self.browse()
        else:
            server = self.sudo()._find_mail_server(smtp_from)[0]
        return server if server and server.owner_user_id else self.browse()

    def _smtp_login(self, connection, smtp_user, smtp_password):
        """Log in with the decrypted password; SMTP debugging is paused meanwhile."""
        if len(self) != 1 or not self.sudo().mcl_password_token:
            return super()._smtp_login(connection, smtp_user, smtp_password)
        password = self._mcl_password_for_login()
        connection.set_debuglevel(0)
        try:
            connection.login(smtp_user, password)
        except smtplib.SMTPResponseException as error:
            smtp_endpoint = self._mcl_endpoints(password)[1]
            self._mcl_record_problem(self._mcl_explain(probe.diagnose("smtp", error, password), smtp_endpoint))
            raise
        finally:
            connection.set_debuglevel(self.smtp_debug)

    def _mcl_endpoints(self, password):
        """The (IMAP, SMTP) endpoints of this mailbox."""
        self.ensure_one()
        server = self.sudo()
        return (
            probe.Endpoint(server.mcl_imap_host, server.mcl_imap_port, server.mcl_imap_encryption,
                           server.smtp_user, password),
            probe.Endpoint(server.smtp_host, server.smtp_port, server.smtp_encryption, server.smtp_user, password),
        )

    def _mcl_password_for_login(self):
        """Decrypt the password; a failure puts the mailbox in "needs attention"."""
        try:
            return self._mcl_decrypt_password()
        except UserError as error:
            self._mcl_record_problem(error.args[0])
            raise

    def _mcl_requeue_failed_mails(self):
        """Queue again the emails that could not leave through this mailbox (call it once it works).

        Only emails in exception are taken, so one sent already is never sent again.
        """
        for mailbox in self.sudo().filtered("owner_user_id"):
            failed = self.env["mail.mail"].sudo().search([
                ("state", "=", "exception"),
                ("failure_type", "in", MAILBOX_FAILURES),
                ("author_id", "=", mailbox.owner_user_id.partner_id.id),
                ("email_from", "ilike", mailbox.mcl_email),
            ])
            failed = failed.filtered(lambda mail, address=mailbox.mcl_email: email_normalize(mail.email_from) == address)
            if failed:
                failed._mcl_requeue(mailbox)

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    def _mcl_record_problem(self, message):
        self.sudo().write({"mcl_last_error": message, "mcl_diagnosis_date": fields.Datetime.now()})

    def _mcl_record_success(self):
        self.sudo().write({"mcl_last_error": False, "mcl_diagnosis_date": fields.Datetime.now()})

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_mcl_open_setup(self):
        """Open the set-up form on this mailbox (edit, re-enter the password)."""
        self.ensure_one()
        return self.env["mcl.mailbox.setup"]._action_open(self)

    @api.model
    def action_mcl_add_mailbox(self):
        return self.env["mcl.mailbox.setup"]._action_open(self.browse())
