import contextlib
import dataclasses
import logging
import smtplib
import socket
import ssl
from email.utils import formataddr

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config, email_normalize, escape_psql, is_html_empty, plaintext2html

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from ..core import probe, vault
from .mail_mail import FATE_UNKNOWN
from .mcl_mailbox_mixin import configured_keys

_logger = logging.getLogger(__name__)

# Version of the terms of use a mailbox owner accepts; a new version asks again.
TERMS_VERSION = "2026-11"


def responsible_user(record):
    """The user a document is the business of (an invoice's salesperson, a record's responsible), if any;
    it is also whom the document's templates sign with."""
    name = next((name for name in ("invoice_user_id", "user_id")
                 if name in record._fields and record._fields[name].comodel_name == "res.users"), None)
    return record.sudo()[name] if name else record.env["res.users"]


# Diagnoses of a passing problem (the provider is down, slow, or asks to come back later): the
# emails are retried by themselves. Any 4xx reply of the server is one too.
PASSING_CODES = frozenset({"dns", "refused", "timeout", "server_closed", "too_many_attempts"})


def is_passing(error, code):
    """Whether ``error`` (diagnosed ``code``) should go away by itself, so that retrying later is right."""
    return code in PASSING_CODES or 400 <= (getattr(error, "smtp_code", 0) or 0) < 500


ENCRYPTION_SELECTION = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None")]


class IrMailServer(models.Model):
    """A personal mailbox is an outgoing server owned by one user.

    Odoo routes a message to it by ``from_filter`` (the mailbox address) and
    sends it through its queue; this model adds the owner, the IMAP side, the
    encrypted password, the signature, the consent and the connection state.
    """

    _name = "ir.mail_server"
    _inherit = ["ir.mail_server", "mcl.mailbox.oauth.mixin"]

    owner_user_id = fields.Many2one(
        "res.users",
        string="Owner",
        index=True,
        ondelete="cascade",
        help="The user this personal mailbox belongs to: only their messages, and those of the colleagues "
        "they name, leave through it.",
    )
    mcl_delegate_user_ids = fields.Many2many(
        "res.users",
        "ir_mail_server_mcl_delegate_rel",
        "mail_server_id",
        "user_id",
        string="Colleagues who may send from it",
        domain=[("share", "=", False)],
        help="Their invoices and messages leave from this mailbox, with its signature. "
        "They can neither change it nor see its password.",
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
    mcl_last_error = fields.Text(string="Last problem", readonly=True, copy=False, groups="base.group_system")
    mcl_problem_passing = fields.Boolean(string="Passing problem", readonly=True, copy=False,
                                         help="The last problem should go away by itself: waiting emails are "
                                         "retried automatically.")
    mcl_diagnosis = fields.Text(string="Diagnosis", compute="_compute_mcl_state")
    mcl_diagnosis_date = fields.Datetime(string="Checked on", readonly=True, copy=False)

    _sql_constraints = [
        ("mcl_email_unique", "unique(mcl_email)", "This address is already connected as a personal mailbox."),
    ]

    @api.constrains("owner_user_id", "mcl_delegate_user_ids")
    def _check_mcl_delegate_user_ids(self):
        for server in self.filtered("mcl_delegate_user_ids"):
            if not server.owner_user_id:
                raise ValidationError(_("Only a personal mailbox can have colleagues who send from it."))
            if server.owner_user_id in server.mcl_delegate_user_ids:
                raise ValidationError(_("The owner of a mailbox sends from it already: remove them from the "
                                        "colleagues who may send from it."))
            if any(user.share for user in server.mcl_delegate_user_ids):
                raise ValidationError(_("Only internal users can send from a colleague's mailbox."))

    def _mcl_may_be_used_by(self, user):
        """Whether ``user`` may send through this personal mailbox: its owner, or a colleague the owner
        named, while both are active internal users.  The only place that decides it."""
        self.ensure_one()
        mailbox = self.sudo()
        owner = mailbox.owner_user_id
        return bool(
            owner and owner.active and not owner.share and user and len(user) == 1
            and user.active and not user.share and user in owner | mailbox.mcl_delegate_user_ids
        )

    @api.model_create_multi
    def create(self, vals_list):
        """A practitioner who connects a mailbox and has no invoice template yet gets the practice's."""
        servers = super().create(vals_list)
        template = self.env.ref("mcl_mailbox.mail_template_invoice_practice", raise_if_not_found=False)
        owners = servers.sudo().owner_user_id.filtered(lambda owner: not owner.mcl_invoice_template_id)
        if template and owners:
            owners.mcl_invoice_template_id = template
        return servers

    @api.depends("name", "mcl_email")
    def _compute_display_name(self):
        """A personal mailbox shows its address to those who send from it or may change it."""
        result = super()._compute_display_name()
        user = self.env.user
        for server in self.filtered(lambda server: server.sudo().mcl_email):
            if server._mcl_may_be_used_by(user) or server._mcl_may_be_changed_by(user):
                server.display_name = f"{server.name} <{server.sudo().mcl_email}>"
        return result

    @api.model
    def _mcl_mailboxes_by_address(self):
        """{address: personal mailbox}: the routing of emails by their From address."""
        mailboxes = self.sudo().search([("owner_user_id", "!=", False), ("mcl_email", "!=", False)])
        return {mailbox.mcl_email: mailbox for mailbox in mailboxes}

    def _mcl_from_address(self):
        """The From of the emails leaving through this mailbox: its owner's name and its address."""
        self.ensure_one()
        return formataddr((self.sudo().owner_user_id.name, self.sudo().mcl_email))

    def _mcl_signature(self):
        """The signature of the emails leaving through this mailbox: its own, else its owner's in Odoo."""
        self.ensure_one()
        mailbox = self.sudo()
        if not is_html_empty(mailbox.mcl_signature):
            return mailbox.mcl_signature
        return mailbox.owner_user_id.signature if not is_html_empty(mailbox.owner_user_id.signature) else ""

    def _mcl_may_send_for(self, user, record):
        """Whether ``user`` may send an email about ``record`` through this mailbox: its owner may; a
        delegate may, except about a document another practitioner is responsible for (an invoice of a
        colleague never leaves under the owner's name)."""
        self.ensure_one()
        if not self._mcl_may_be_used_by(user):
            return False
        owner = self.sudo().owner_user_id
        if user == owner or not record:
            return True
        responsible = responsible_user(record)
        return not responsible or responsible == owner

    @api.constrains("mcl_email", "owner_user_id")
    def _check_mcl_email_is_own(self):
        for server in self.filtered(lambda server: server.owner_user_id and server.mcl_email):
            server._mcl_check_address(server.mcl_email, server.owner_user_id)

    @api.model
    def _mcl_check_address(self, email, owner):
        """Refuse ``email`` as a personal mailbox of ``owner`` when it is another user's address or one
        of Odoo's own (notifications, bounce, catchall, an alias, odoo.conf's email_from): the mail
        Odoo sends or receives there would go through that mailbox and be filed in it."""
        email = email_normalize(email)
        if not email:
            return
        users = self.env["res.users"].sudo().with_context(active_test=False)
        if users.search_count([("id", "!=", owner.id), "|", ("partner_id.email_normalized", "=", email),
                               ("login", "=ilike", escape_psql(email))], limit=1):
            raise ValidationError(_("“%s” is the email address of another Odoo user: only that user can connect "
                                    "it as their mailbox. Connect your own address instead.", email))
        if email in self._mcl_odoo_addresses():
            raise ValidationError(_("“%s” is an address Odoo itself sends or receives with (notifications, bounces, "
                                    "replies, or email_from in odoo.conf): it cannot be a personal mailbox. "
                                    "Connect your own address instead.", email))
        if self.env["mail.alias"].sudo().search_count([("alias_full_name", "=", email)], limit=1):
            raise ValidationError(_("“%s” is an alias that brings incoming mail into Odoo: it cannot be a personal "
                                    "mailbox. Connect your own address instead.", email))

    @api.model
    def _mcl_odoo_addresses(self):
        """Every company's notifications address, every alias domain's bounce, catchall and default
        sender, and odoo.conf's email_from, normalized."""
        domains = self.env["mail.alias.domain"].sudo().search([])
        addresses = domains.mapped("bounce_email") + domains.mapped("catchall_email") + domains.mapped("default_from_email")
        addresses += [self.sudo().with_company(company)._get_default_from_address()
                      for company in self.env["res.company"].sudo().search([])]
        addresses.append(config.get("email_from"))
        return {email_normalize(address) for address in addresses if address} - {False}

    @api.depends("smtp_user")
    def _compute_mcl_login(self):
        for server in self:
            server.mcl_login = server.smtp_user

    @api.depends("owner_user_id", "mcl_last_error", "mcl_consent_version", "mcl_password_token", "mcl_oauth_account")
    @api.depends_context("uid")
    def _compute_mcl_state(self):
        """The status, and why it needs attention: in full (logins, hosts, server replies) for the owner and
        administrators only; the colleagues who send from it learn that the owner must act."""
        for server in self:
            reason = server._mcl_attention_reason()
            server.mcl_state = "attention" if reason else "connected"
            if reason and not server._mcl_may_be_changed_by(self.env.user):
                reason = _("This mailbox needs its owner's attention; emails from it wait until it is fixed.")
            server.mcl_diagnosis = reason

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
        signed_in = self._mcl_oauth_account()
        if not vault.can_decrypt(configured_keys(), self._mcl_token()):
            if signed_in:
                return _("Sign in again: the stored sign-in can no longer be used.")
            return _("Re-enter your app password: the stored one can no longer be used.")
        if not self._mcl_token_fits():
            return self._mcl_server_changed()
        if self.mcl_consent_version != TERMS_VERSION:
            return _("The terms of use changed: open the mailbox and accept them again.")
        return self.sudo().mcl_last_error or False

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    @api.model
    def _find_mail_server(self, email_from, mail_servers=None):
        """Never pick a personal mailbox by address: Odoo's choice is made among the shared servers.

        ``mail.mail`` sends through a personal mailbox only once it has checked who wrote the email
        (``_mcl_personal_mailbox``); everything else, and every other caller, gets the shared servers.
        """
        if mail_servers is None:
            mail_servers = self.sudo().search([], order="sequence")
        return super()._find_mail_server(email_from, mail_servers.filtered(lambda server: not server.owner_user_id))

    @api.private
    def connect(self, host=None, port=None, user=None, password=None, encryption=None, smtp_from=None,
                ssl_certificate=None, ssl_private_key=None, smtp_debug=False, mail_server_id=None,
                allow_archived=False):
        """Connect to a personal mailbox with a verified TLS certificate, for its owner only.

        Odoo's own connection does not check certificates; personal mailboxes
        carry a real password, so they do.  ``connect`` is public, hence callable
        over RPC: only the owner, an administrator or the mail queue (superuser)
        may make Odoo log in to a personal mailbox, and only when it is named by
        id.  Other servers are left to Odoo.
        """
        mailbox = self._mcl_mailbox_to_connect(mail_server_id, host, smtp_from)
        self.browse(mailbox.ids)._mcl_check_may_connect()
        if not mailbox:
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
        """A logged-in SMTP session to this mailbox, shaped like Odoo's own, and bounded.

        Each read or write waits at most the connection timeout, connecting and logging in take at
        most that plus probe.DEADLINE_SLACK in all, and every reply is capped (probe.SMTPClient);
        ``send_email`` then bounds each message.
        """
        timeout = self._mcl_timeout()
        context = self._mcl_ssl_context()
        with probe.Watchdog(timeout + probe.DEADLINE_SLACK) as watchdog:
            connection = probe.smtp_client(self._mcl_smtp_endpoint(""), context, timeout, watchdog)
            try:
                self._mcl_start_session(connection, context, smtp_debug)
            except BaseException:
                connection.close()
                raise
        connection.from_filter = self.from_filter
        connection.smtp_from = smtp_from
        connection.mcl_mailbox_id = self.id
        return connection

    def _mcl_start_session(self, connection, context, smtp_debug):
        # One connection carries a whole batch: without this, each message waits for a delayed ACK.
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.set_debuglevel(smtp_debug or self.smtp_debug)
        if self.smtp_encryption == "starttls":
            connection.starttls(context=context)
        self._smtp_login(connection, self.smtp_user, "")
        connection.ehlo_or_helo_if_needed()

    @api.model
    def _mcl_message_timeout(self):
        """Seconds one message may take to leave through a personal mailbox: the system parameter
        ``mcl_mailbox.message_timeout``, else six times the connection timeout."""
        value = self.env["ir.config_parameter"].sudo().get_param("mcl_mailbox.message_timeout")
        try:
            return max(1.0, float(value)) if value else 6 * self._mcl_timeout()
        except (TypeError, ValueError):
            return 6 * self._mcl_timeout()

    @contextlib.contextmanager
    def _mcl_bounded_send(self, smtp_session, message_id):
        """Bound one message sent on a personal mailbox's session; losing the session fails that message.

        Odoo re-raises a lost connection, which stops the whole mail queue: through a personal
        mailbox it is a delivery failure of this message instead (retried, or kept for its owner when
        it may have left already), and the queue goes on with the other mailboxes.
        """
        mailbox = self.sudo().browse(getattr(smtp_session, "mcl_mailbox_id", None) or [])
        if not mailbox:
            yield
            return
        try:
            with smtp_session.deadline(self._mcl_message_timeout()):
                yield
        except (smtplib.SMTPServerDisconnected, probe.DeadlineExceeded) as error:
            problem = mailbox._mcl_connection_problem(error)
            if getattr(smtp_session, "handed_over", False):  # the server may have kept it: only its owner may send it again
                mailbox._mcl_note_failure("fate_unknown", message_id)
            raise MailDeliveryException(problem) from None
        except MailDeliveryException as error:
            refusal = error.__context__
            if isinstance(refusal, smtplib.SMTPResponseException) and 400 <= refusal.smtp_code < 500:
                mailbox._mcl_note_failure("retry", message_id)  # "try again later"
            raise

    def _mcl_connection_problem(self, error):
        """Record why connecting failed (a certificate, a timeout, ...) and return it."""
        diagnosis = probe.diagnose("smtp", error)
        message = self._mcl_explain(diagnosis, self._mcl_smtp_endpoint(""))
        self._mcl_record_problem(message, passing=is_passing(error, diagnosis.code))
        return message

    @api.private
    def send_email(self, message, mail_server_id=None, smtp_server=None, smtp_port=None, smtp_user=None,
                   smtp_password=None, smtp_encryption=None, smtp_ssl_certificate=None, smtp_ssl_private_key=None,
                   smtp_debug=False, smtp_session=None):
        """Send within the message deadline of a personal mailbox, and queue a copy for its Sent folder."""
        with self._mcl_bounded_send(smtp_session, message["Message-Id"]):
            message_id = super().send_email(
                message, mail_server_id=mail_server_id, smtp_server=smtp_server, smtp_port=smtp_port,
                smtp_user=smtp_user, smtp_password=smtp_password, smtp_encryption=smtp_encryption,
                smtp_ssl_certificate=smtp_ssl_certificate, smtp_ssl_private_key=smtp_ssl_private_key,
                smtp_debug=smtp_debug, smtp_session=smtp_session,
            )
        mailbox = self.sudo().browse(getattr(smtp_session, "mcl_mailbox_id", None) or [])
        if mailbox.mcl_problem_passing:
            mailbox._mcl_works_again()
        if mailbox.mcl_imap_host and not mailbox.mcl_provider_id.files_sent_copy:
            self.env["mcl.mailbox.sent.copy"].sudo()._enqueue(mailbox, message)
        return message_id

    def _mcl_check_may_connect(self):
        """Raise unless the current user (or the superuser: the mail queue) may have Odoo log in to these
        servers."""
        if not self.env.su and not all(server._mcl_may_be_changed_by(self.env.user) for server in self):
            raise AccessError(_("Only the owner of this mailbox, or an administrator, can connect to it."))

    def _mcl_mailbox_to_connect(self, mail_server_id, host, smtp_from):
        """The server ``connect`` must open itself (verified TLS, bound password): a personal mailbox, or
        any server storing an encrypted password, named by id; never one found by ``smtp_from``
        (``_find_mail_server`` leaves personal mailboxes out)."""
        server = self.sudo().browse(mail_server_id or [])
        return server if server and (server.owner_user_id or server._mcl_token()) else self.browse()

    def test_smtp_connection(self, autodetect_max_email_size=False):
        """Odoo's test (and its size detection) logs in with the server's password: for a mailbox's owner
        or an administrator only."""
        self._mcl_check_may_connect()
        return super().test_smtp_connection(autodetect_max_email_size=autodetect_max_email_size)

    def _smtp_login(self, connection, smtp_user, smtp_password):
        """Log in with the decrypted password, or an access token, for the server really connected to;
        SMTP debugging is paused meanwhile.  A refused access token is refreshed once and tried again."""
        if len(self) != 1 or not self._mcl_token():
            return super()._smtp_login(connection, smtp_user, smtp_password)
        endpoint = self._mcl_connected_endpoint(connection, smtp_user)
        secret = self._mcl_password_for_login(endpoint)
        smtp = getattr(connection, "__obj__", connection)
        smtp.set_debuglevel(0)
        try:
            try:
                self._mcl_smtp_authenticate(smtp, endpoint, secret)
            except smtplib.SMTPAuthenticationError:
                if self._mcl_mechanism() != "xoauth2":
                    raise
                secret = self._mcl_password_for_login(endpoint, force_refresh=True)
                self._mcl_smtp_authenticate(smtp, endpoint, secret)
        except smtplib.SMTPResponseException as error:
            diagnosis = probe.diagnose("smtp", error, secret)
            self._mcl_record_problem(self._mcl_explain(diagnosis, self._mcl_smtp_endpoint(secret)),
                                     passing=is_passing(error, diagnosis.code))
            raise
        finally:
            smtp.set_debuglevel(self.smtp_debug)

    def _mcl_smtp_authenticate(self, smtp, endpoint, secret):
        endpoint = dataclasses.replace(endpoint, password=secret, mechanism=self._mcl_mechanism())
        if endpoint.mechanism == "xoauth2":
            probe.smtp_xoauth2_login(smtp, endpoint)
            return
        try:
            smtp.login(endpoint.login, secret)
        finally:
            smtp.password = None  # smtplib keeps it otherwise

    def _mcl_imap_endpoint(self, password):
        self.ensure_one()
        server = self.sudo()
        return probe.Endpoint(server.mcl_imap_host, server.mcl_imap_port, server.mcl_imap_encryption,
                              server.smtp_user, password, mechanism=server._mcl_mechanism())

    def _mcl_smtp_endpoint(self, password):
        self.ensure_one()
        server = self.sudo()
        return probe.Endpoint(server.smtp_host, server.smtp_port, server.smtp_encryption, server.smtp_user, password,
                              mechanism=server._mcl_mechanism())

    def _mcl_connected_endpoint(self, connection, login):
        """Where an SMTP connection really leads: the name it was opened to, its peer port, and its
        security, which counts only if the certificate was verified for that name."""
        smtp = getattr(connection, "__obj__", connection)
        sock = smtp.sock
        verified = (
            isinstance(sock, ssl.SSLSocket) and sock.context.verify_mode == ssl.CERT_REQUIRED
            and sock.context.check_hostname and sock.server_hostname == smtp._host
        )
        return probe.Endpoint(smtp._host, sock.getpeername()[1], self.smtp_encryption if verified else "none", login, "")

    def _mcl_sealed_endpoints(self):
        smtp = self._mcl_smtp_endpoint("")
        return [self._mcl_imap_endpoint(""), smtp] if self.mcl_imap_host else [smtp]

    def _mcl_sealed_holder(self):
        return self.owner_user_id.id

    def _mcl_may_reveal(self, user):
        return self._mcl_may_be_changed_by(user)

    def _mcl_may_be_changed_by(self, user):
        """Whether ``user`` may change this server and have Odoo log in to it: the owner of a personal
        mailbox, or an administrator."""
        self.ensure_one()
        owner = self.sudo().owner_user_id
        return (bool(owner) and owner == user) or user.has_group("base.group_system")

    def _mcl_password_for_login(self, endpoint, force_refresh=False):
        """The password (or an access token) for ``endpoint``; a failure puts the mailbox in "needs
        attention", retried by itself if the identity provider did not answer."""
        try:
            return self._mcl_login_secret(endpoint, force_refresh=force_refresh)
        except UserError as error:
            self._mcl_record_problem(error.args[0], passing=getattr(error, "mcl_passing", False))
            raise

    def _mcl_requeue_failed_mails(self):
        """Send again, at once, the emails waiting on these mailboxes (call it once they work).

        Those that may have left already wait for their owner's choice: one sent already is never sent
        again without them.
        """
        for mailbox in self.sudo().filtered("owner_user_id"):
            waiting = self.env["mail.mail"]._mcl_waiting_for(mailbox)
            waiting = waiting.filtered(lambda mail: mail.failure_type != FATE_UNKNOWN)
            if waiting:
                waiting._mcl_requeue(mailbox)

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    def _mcl_record_problem(self, message, passing=False):
        """Put the mailbox in "needs attention" with ``message``; the emails it fails now are retried
        by themselves when the problem is ``passing``, else they wait for the owner's fix."""
        self.sudo().write({"mcl_last_error": message, "mcl_problem_passing": passing,
                           "mcl_diagnosis_date": fields.Datetime.now()})
        self._mcl_note_failure("retry" if passing else "owner")

    def _mcl_note_failure(self, kind, message_id=None):
        """Tell the mail queue, within this transaction, what to do with the email failing now through
        this mailbox (or with message ``message_id``): ``retry``, ``owner`` (wait for the fix) or
        ``fate_unknown`` (it may have left). Read by ``mail.mail._mcl_failure_kind``."""
        failures = self.env.cr.precommit.data.setdefault("mcl_mailbox.failures", {})
        failures[("message", message_id) if message_id else ("mailbox", self.id)] = kind

    def _mcl_works_again(self):
        """A message left after a passing problem: the mailbox is fine, and its owner's to-do closes."""
        self.sudo().write({"mcl_last_error": False, "mcl_problem_passing": False})
        self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_report_failures")._trigger()

    # ------------------------------------------------------------------
    # Telling the owner: after the sending, in a transaction of its own
    # ------------------------------------------------------------------

    @api.model
    def _cron_mcl_report_failures(self):
        """Tell each owner once per mailbox that emails wait (one to-do, kept up to date, closed once
        nothing waits), and ask about each email that may have left (a to-do on its document).

        The to-dos are shown in Odoo only: no email goes out about a mailbox that cannot send.
        """
        for mailbox in self.sudo().search([("owner_user_id", "!=", False)]):
            waiting = self.env["mail.mail"]._mcl_waiting_for(mailbox)
            in_owner_lang = mailbox.with_context(lang=mailbox.owner_user_id.lang, mail_activity_quick_update=True)
            in_owner_lang._mcl_update_waiting_todo(waiting.filtered(lambda mail: mail.failure_type != FATE_UNKNOWN))
            for mail in waiting.filtered(lambda mail: mail.failure_type == FATE_UNKNOWN):
                in_owner_lang._mcl_ask_about(mail)

    def _mcl_update_waiting_todo(self, waiting):
        """The owner's one to-do about the emails waiting on this mailbox: created, updated or closed."""
        todo = self.env["mail.activity"].sudo().search([
            ("mcl_mail_server_id", "=", self.id),
            ("activity_type_id", "=", self.env.ref("mcl_mailbox.mail_activity_type_mailbox_failure").id),
        ])
        if not waiting:
            todo.action_feedback(feedback=self.env._("The mailbox works again: the waiting emails have left "
                                                     "or are queued to be sent."))
            return
        held = waiting.filtered(lambda mail: mail.state == "exception")
        if held and not self.mcl_last_error:  # refused while sending, after a good login: the mailbox says by whom
            # (an email only retried, e.g. greylisted, is no fault of the mailbox)
            self._mcl_record_problem(held[:1]._mcl_failure_diagnosis())
        note = plaintext2html(self._mcl_waiting_note(waiting))
        if todo:
            todo.filtered(lambda activity: activity.note != note).note = note
            return
        record = self._mcl_todo_record(waiting[:1])
        record.activity_schedule("mcl_mailbox.mail_activity_type_mailbox_failure", user_id=self.owner_user_id.id,
                                 note=note, mcl_mail_server_id=self.id)

    def _mcl_waiting_note(self, waiting):
        _ = self.env._
        count = _("%(count)s email(s) wait to leave through your mailbox “%(mailbox)s”.",
                  count=len(waiting), mailbox=self.name)
        if self.mcl_problem_passing or all(mail.state == "outgoing" for mail in waiting):
            return "\n\n".join([count, _("Your provider does not answer for now: Odoo tries again by itself, "
                                         "more and more rarely, for a day. Nothing to do unless it lasts.")])
        return "\n\n".join([count, _(
            "Open Preferences > Mailboxes: the mailbox says what went wrong. Click Change on it, then "
            "“Test connection and save”: the waiting emails then leave."
        )])

    def _mcl_todo_record(self, mail):
        """Where the owner's to-do about ``mail`` goes: its document, else the owner's contact (in this
        environment: no email is sent about the to-do)."""
        record = mail._mcl_document()
        if not record or "activity_ids" not in record._fields:
            record = self.owner_user_id.partner_id
        return record.with_env(self.env)

    def _mcl_ask_about(self, mail):
        """One to-do on the document of an email that may have left: the owner checks and decides."""
        record = self._mcl_todo_record(mail)
        activity_type = self.env.ref("mcl_mailbox.mail_activity_type_maybe_sent")
        if record.activity_ids.filtered(lambda activity: activity.activity_type_id == activity_type):
            return
        note = self.env._(
            "The connection to your mailbox “%(mailbox)s” was lost while the email “%(subject)s” was being sent: "
            "it may have left already.\n\nLook for it in the Sent folder of your mailbox. If it is there, click "
            "“It was sent” on the document; if not, click “Send again”. It is not sent again without you.",
            mailbox=self.name, subject=mail.subject or "",
        )
        record.activity_schedule("mcl_mailbox.mail_activity_type_maybe_sent", user_id=self.owner_user_id.id,
                                 note=plaintext2html(note), mcl_mail_server_id=self.id)

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

    # ------------------------------------------------------------------
    # Replies
    # ------------------------------------------------------------------

    mcl_replies_enabled = fields.Boolean(
        string="Bring replies into Odoo",
        default=True,
        help="Replies to the emails sent from this mailbox are posted on their document in Odoo. They stay "
        "unread in the mailbox; nothing else in it is read.",
    )
    mcl_replies_checked_on = fields.Datetime(string="Replies last checked on", readonly=True, copy=False)
    mcl_replies_result = fields.Char(string="Last check found", readonly=True, copy=False)
    mcl_replies_error = fields.Text(string="Problem of the last replies check", readonly=True, copy=False,
                                    groups="base.group_system")
    mcl_replies_error_code = fields.Char(string="Diagnosis of the last replies check", readonly=True, copy=False,
                                         groups="base.group_system")
    # Diagnoses of a refused password: not tried again until the owner acts.
    _mcl_replies_credentials_codes = ("auth_failed", "app_password_required", "web_login_required",
                                      "basic_auth_disabled", "too_many_attempts")

    def action_mcl_toggle_replies(self):
        """Turn bringing replies into Odoo on or off: for the mailbox's owner or an administrator."""
        for mailbox in self:
            if not mailbox._mcl_may_be_changed_by(self.env.user):
                raise AccessError(self.env._("Only the owner of this mailbox, or an administrator, can change it."))
            mailbox.sudo().mcl_replies_enabled = not mailbox.sudo().mcl_replies_enabled
        return True

    def _mcl_replies_may_check(self):
        """Whether the replies cron may log in now: its owner still works here (an archived user's mailbox
        sends nothing, so it is not read either), terms accepted, and not a password the server refused
        and nobody re-entered since (each refused login counts against the account at the provider)."""
        self.ensure_one()
        mailbox = self.sudo()
        refused = (mailbox.mcl_replies_error_code in self._mcl_replies_credentials_codes
                   and mailbox.mcl_last_error == mailbox.mcl_replies_error)
        return (mailbox._mcl_may_be_used_by(mailbox.owner_user_id)
                and mailbox.mcl_consent_version == TERMS_VERSION and not refused)

    def _mcl_replies_failed(self, message, code):
        """Show on the mailbox's status why the replies could not be checked, like a failed send."""
        self._mcl_record_problem(message)
        self.sudo().write({
            "mcl_replies_checked_on": fields.Datetime.now(),
            "mcl_replies_result": self.env._("Check failed: see the mailbox's status."),
            "mcl_replies_error": message,
            "mcl_replies_error_code": code,
        })

    def _mcl_replies_succeeded(self, summary):
        """Record what the check found; a problem that a check recorded is over."""
        mailbox = self.sudo()
        values = {"mcl_replies_checked_on": fields.Datetime.now(), "mcl_replies_result": summary,
                  "mcl_replies_error": False, "mcl_replies_error_code": False}
        if mailbox.mcl_replies_error and mailbox.mcl_last_error == mailbox.mcl_replies_error:
            values["mcl_last_error"] = False
        mailbox.write(values)
