"""The app password and its ciphertext never come back: not over RPC, not in messages, not in the logs."""

import contextlib
import io
import json
import logging

from odoo.tests import HttpCase, tagged

from .common import MailboxCase
from .security_common import TOKEN_COLUMNS, RpcMixin, columns_containing, secret_forms, token_forms

MAILBOX_MODEL = "ir.mail_server"


class LeakCase(MailboxCase):
    def assert_no_secret(self, text, secrets, what=""):
        for secret in secrets:
            self.assertNotIn(secret, text, f"a secret leaks {what}")

    def connected(self, user):
        address, password = self.new_account()
        mailbox = self.connect_mailbox(user, address, password)
        return mailbox, secret_forms(address, password) + token_forms(mailbox.sudo().mcl_password_token)


@tagged("post_install", "-at_install")
class TestLeaksOverRpc(RpcMixin, HttpCase, LeakCase):
    """XML-RPC, the external JSON-RPC and the web client's call_kw, as owner, colleague, secretary, administrator."""

    def calls(self, record):
        """(name, model, method, args, kwargs): every way to ask for a record's fields."""
        ids, model = record.ids, record._name
        secret_fields = ["name", "mcl_password", "mcl_password_token", "mcl_has_password"]
        return [
            ("read all", model, "read", [ids, []], {}),
            ("read secret", model, "read", [ids, ["name", "mcl_password", "mcl_has_password"]], {}),
            ("read token", model, "read", [ids, secret_fields], {}),
            ("search_read", model, "search_read", [[("id", "in", ids)]], {}),
            ("export_data", model, "export_data", [ids, secret_fields], {}),
            ("web_read", model, "web_read", [ids, {name: {} for name in secret_fields}], {}),
            ("web_search_read", model, "web_search_read", [[("id", "in", ids)], {"name": {}, "mcl_password": {}}], {}),
            ("fields_get", model, "fields_get", [[], ["string", "help", "type"]], {}),
            ("token search", model, "search_count", [[("mcl_password_token", "!=", False)]], {}),
        ]

    def test_no_protocol_and_no_user_gets_the_password_or_its_token(self):
        mailbox, secrets = self.connected(self.doctor)
        inbox_address, inbox_password = self.new_account()
        inbox = self.env["fetchmail.server"].sudo().create({
            "name": "Practice inbox", "server_type": "imap", "server": "localhost", "port": self.ports["imaps"],
            "is_ssl": True, "user": inbox_address, "mcl_password": inbox_password,
        })
        secrets += secret_forms(inbox_address, inbox_password) + token_forms(inbox.sudo().mcl_password_token)
        answers = {}
        for protocol in (self.xmlrpc, self.jsonrpc, self.call_kw):
            for user in (self.doctor, self.physio, self.secretary, self.admin):
                records = [mailbox] + ([inbox] if user == self.admin else [])
                for record in records:
                    for name, model, method, args, kwargs in self.calls(record):
                        result, error = protocol(user, model, method, *args, **kwargs)
                        key = (protocol.__name__, user.login, model, name)
                        answers[key] = (result, error)
                        self.assert_no_secret(repr(result) + error, secrets, str(key))
        # the calls did reach the records: owner and administrator read them, the others are refused
        for protocol in ("xmlrpc", "jsonrpc", "call_kw"):
            for login in ("mcl_doctor", "mcl_admin"):
                [values] = answers[(protocol, login, MAILBOX_MODEL, "read secret")][0]
                self.assertEqual((values["mcl_password"], values["mcl_has_password"]), (False, True))
                for name in ("read token", "token search"):
                    self.assertIn("AccessError", answers[(protocol, login, MAILBOX_MODEL, name)][1])
            for login in ("mcl_physio", "mcl_secretary"):
                self.assertIn("AccessError", answers[(protocol, login, MAILBOX_MODEL, "read all")][1])
            self.assertEqual(answers[(protocol, "mcl_admin", "fetchmail.server", "read secret")][0][0]["name"],
                             "Practice inbox")


@tagged("post_install", "-at_install")
class TestLeaksInRecordsAndLogs(LeakCase):
    def test_messages_errors_notifications_and_the_database_hold_no_clear_password(self):
        address, password = self.new_account()
        wrong = self.setup_form(self.doctor, address, password + "typo")
        wrong.action_test_and_save()  # a failed test: the diagnosis is stored on the form
        action = self.setup_form(self.doctor, address, password).action_test_and_save()
        mailbox = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
        patient, _patient_password = self.new_account()
        self.assertEqual(self.send_mail(self.doctor, address, patient).state, "sent")
        new_password = password + "renewed"
        self.stack.add_user(address, new_password)  # the provider revokes it: sending fails, a to-do is made
        failed = self.send_mail(self.doctor, address, patient)
        self.assertEqual(failed.state, "exception")
        self.env["ir.mail_server"]._cron_mcl_report_failures()  # the owner is told, after the sending
        self.assertTrue(self.env["mail.activity"].search([("user_id", "=", self.doctor.id)]))
        errors = failed.failure_reason + mailbox.mcl_diagnosis
        form = self.env["mcl.mailbox.setup"].browse(
            mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"]).with_user(self.doctor)
        form.mcl_password = new_password
        renewed = form.action_test_and_save()

        secrets = (secret_forms(address, password) + secret_forms(address, password + "typo")
                   + secret_forms(address, new_password))
        self.assert_no_secret(json.dumps([action, renewed]) + (wrong.diagnosis or ""), secrets, "in a notification")
        self.assert_no_secret(errors, secrets, "in an error")
        self.env.flush_all()
        self.assertEqual(columns_containing(self.env.cr, secrets), set(), "the clear password is nowhere")
        self.assertLessEqual(columns_containing(self.env.cr, token_forms(mailbox.mcl_password_token)), TOKEN_COLUMNS,
                             "the ciphertext is only in its column")

    def test_debug_logs_with_smtp_debugging_hold_no_secret(self):
        address, password = self.new_account()
        patient, _patient_password = self.new_account()
        captured = io.StringIO()
        with self.debug_logs() as logs, contextlib.redirect_stderr(captured):
            mailbox = self.connect_mailbox(self.doctor, address, password)
            mailbox.smtp_debug = True
            mail = self.send_mail(self.doctor, address, patient)
        self.assertEqual(mail.state, "sent", mail.failure_reason)
        text = "\n".join(logs.output) + captured.getvalue()
        self.assertIn("mail FROM:", text, "the SMTP dialogue is in the output: debugging was on")
        self.assertNotIn("auth", text.lower().replace("authenticated", ""), "no AUTH line at all")
        self.assert_no_secret(text, secret_forms(address, password) + token_forms(mailbox.mcl_password_token),
                              "in the DEBUG log")

    def test_sql_debug_logs_show_the_ciphertext_only(self):
        address, password = self.new_account()
        with self.debug_logs("odoo.sql_db") as logs:
            mailbox = self.connect_mailbox(self.doctor, address, password)
            self.env.flush_all()
        text = "\n".join(logs.output)
        self.assertIn("mcl_password_token", text, "the queries are logged")
        self.assert_no_secret(text, secret_forms(address, password), "in the SQL log")
        self.assertTrue(mailbox.mcl_password_token)

    @contextlib.contextmanager
    def debug_logs(self, *more_loggers):
        """Capture every log record at DEBUG level, as --log-level=debug (plus ``more_loggers``) would."""
        loggers = [logging.getLogger(name) for name in ("odoo", *more_loggers)]
        levels = [logger.level for logger in loggers]
        sql_logger = logging.getLogger("odoo.sql_db")
        sql_level = sql_logger.level
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
        if not more_loggers:
            sql_logger.setLevel(logging.INFO)
        try:
            with self.assertLogs(level=logging.DEBUG) as logs:
                yield logs
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
            sql_logger.setLevel(sql_level)
