"""Shared set-up: users of a practice, and accounts on the local mail stack.

The tests need nothing started and nothing configured beforehand, under Odoo's own runner
(``odoo-bin --test-enable --test-tags /mcl_mailbox``) as under pytest-odoo:

- the first MailboxCase starts the local mail stack (Dovecot + aiosmtpd, see scripts/mailstack) on
  free ports, once per run, and the run stops it when it exits; a stack that a killed run left
  running is stopped first. When MCL_MAILSTACK_DIR (and MCL_MAILSTACK_PORT_BASE) name a stack, as
  scripts/run_tests.sh does to share its own, that one is used, started if it is not running.
- for the duration of each MailboxCase class, odoo.conf's options are set as the tests need them:
  the stack's CA trusted, loopback servers allowed, and a key generated for the run unless one is
  configured.
"""

import atexit
import logging
import os
import sys
import uuid
from pathlib import Path
from unittest.mock import patch

from odoo import modules
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import config

from ..core import vault

REPO = Path(__file__).resolve().parents[2]
_SCRIPTS = REPO / "scripts"
if not (_SCRIPTS / "mailstack" / "__init__.py").is_file():
    raise ImportError(
        f"mcl_mailbox's tests need the repository checkout: they run the local mail stack from "
        f"{_SCRIPTS / 'mailstack'}, which is missing. Run them from a clone of the repository, "
        f"with the clone's folder in addons_path."
    )
if str(_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(_SCRIPTS))

try:
    from mailstack import Stack, StackError, owned
    from mailstack.layout import recorded_port_base
except ModuleNotFoundError as missing:  # aiosmtpd, dnspython: the development requirements
    raise ImportError(
        f"mcl_mailbox's tests need the Python module {missing.name!r}, missing from {sys.executable}: "
        f"pip install -r {REPO / 'requirements-dev.txt'} (scripts/bootstrap.sh does)"
    ) from missing

# Every test password contains this marker, so the test command can check that
# no log and no database dump ever shows one.
SECRET_MARKER = os.environ.get("MCL_TEST_SECRET", "mcltestsecret")
DOMAIN = "practice.test"
ACCOUNT_BATCH = 24
ACCOUNT_POOL = []  # accounts already on the stack, not yet handed out
SHARED_PORT_BASE = 20000  # of a stack named by MCL_MAILSTACK_DIR alone, when it has never run
RUN_KEY = vault.generate_key()  # the mailbox key of a run with none configured
_STACK = []  # the run's stack, or the StackError that kept it from starting

_logger = logging.getLogger(__name__)


def local_stack():
    """The run's mail stack, started at the first call (see the module's docstring)."""
    if not _STACK:
        try:
            stack = _start_stack()
            _logger.info("local mail stack in %s, ports %s, CA %s", stack.dir, stack.ports, stack.ca_file)
            _STACK.append(stack)
        except StackError as error:
            _STACK.append(error)
    if isinstance(_STACK[0], StackError):
        raise StackError(f"the local mail stack did not start: {_STACK[0]}")
    return _STACK[0]


def _start_stack():
    directory = os.environ.get("MCL_MAILSTACK_DIR")
    if directory:
        # Without a port base: the one it runs (or last ran) on.
        base = os.environ.get("MCL_MAILSTACK_PORT_BASE") or recorded_port_base(directory) or SHARED_PORT_BASE
        stack = Stack(directory, base)
        if stack.start():  # not running: ours to stop (else the script that started it stops it)
            atexit.register(stack.stop)
        return stack
    stack = owned.claim(owned.default_root(REPO))
    atexit.register(stack.stop)
    return stack


def options_for(stack):
    """odoo.conf's options as the tests need them (the stack's CA, loopback servers, a key)."""
    options = {"mcl_mailbox_ca_file": str(stack.ca_file), "mcl_mailbox_allow_private_hosts": True}
    if not (config.get("mcl_mailbox_keys") or os.environ.get("MCL_MAILBOX_KEYS")):
        options["mcl_mailbox_keys"] = RUN_KEY
    return options


class MailboxCase(TransactionCase):
    """Two practitioners, a secretary, an administrator, and a provider preset for the local stack."""

    # These tests send real messages through the add-on's SMTP path to the local stack. Odoo's own
    # runner sets odoo.modules.module.current_test around every test, and while it is set Odoo's
    # ir.mail_server neither connects nor sends (base/models/ir_mail_server.py: connect() returns
    # None, send_email() skips the send). So it is cleared for them, under both runners: pytest-odoo
    # leaves it unset on Odoo 18, but sets it from 19 on. A class that wants Odoo's test mode back
    # sets this to False.
    real_smtp = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.real_smtp:
            # For the set-up of the subclasses too; Odoo's runner sets it again before each test.
            # Besides real SMTP, clearing it also turns off Odoo's test-cursor checks of HTTP requests
            # and lets `_can_commit()` say yes: harmless here (no module of this database commits in
            # the tested flows), the way pytest-odoo always runs on Odoo 18.
            modules.module.current_test = None
        cls.stack = local_stack()
        cls.ports = cls.stack.ports
        cls.startClassPatcher(patch.dict(config.options, options_for(cls.stack)))
        cls.env["ir.config_parameter"].sudo().set_param("mcl_mailbox.connection_timeout", "3")
        groups = "base.group_user,account.group_account_invoice"
        cls.doctor = new_test_user(cls.env, "mcl_doctor", groups=groups, name="Dr Claire Martin",
                                   email="claire.martin@cabinet.test")
        cls.physio = new_test_user(cls.env, "mcl_physio", groups=groups, name="Marc Dubois",
                                   email="marc.dubois@cabinet.test")
        cls.secretary = new_test_user(cls.env, "mcl_secretary", groups=groups, name="Sophie Laurent",
                                      email="secretariat@cabinet.test")
        cls.admin = new_test_user(cls.env, "mcl_admin", groups="base.group_user,base.group_system",
                                  name="Admin", email="admin@cabinet.test")
        cls.provider = cls.env["mcl.mailbox.provider"].create({
            "name": "Local test stack",
            "code": "local_test",
            "domains": DOMAIN,
            "imap_host": "localhost",
            "imap_port": cls.ports["imaps"],
            "imap_encryption": "ssl",
            "smtp_host": "localhost",
            "smtp_port": cls.ports["smtps"],
            "smtp_encryption": "ssl",
            "login_format": "address",
            "auth_kind": "app_password",
            "note": "Local test stack.",
        })

    def setUp(self):
        super().setUp()
        if self.real_smtp:
            self.patch(modules.module, "current_test", None)  # see real_smtp

    @classmethod
    def new_account(cls):
        """A fresh mailbox on the local stack: (address, password)."""
        if not ACCOUNT_POOL:
            # Dovecot sees a new user once a wall-clock second has passed: add them by the dozen.
            tokens = [uuid.uuid4().hex[:10] for _i in range(ACCOUNT_BATCH)]
            accounts = [(f"box-{token}@{DOMAIN}", f"{SECRET_MARKER}{token}") for token in tokens]
            cls.stack.add_users(dict(accounts))
            ACCOUNT_POOL.extend(accounts)
        return ACCOUNT_POOL.pop()

    def setup_form(self, user, address, password, **values):
        """A filled set-up form of ``user`` for ``address``, as after Prefill."""
        form = self.env["mcl.mailbox.setup"].with_user(user).create({
            "terms_accepted": True,
            "name": "Cabinet",
            "email": address,
            "mcl_password": password,
        })
        form.action_prefill()
        form.write(values)
        return form

    def send_mail(self, author, email_from, email_to, subject="Votre facture"):
        """Queue and send one email written by ``author``, as Odoo's mail queue does."""
        mail = self.env["mail.mail"].with_user(author).sudo().create({  # written in Odoo by ``author``
            "email_from": email_from,
            "email_to": email_to,
            "subject": subject,
            "body_html": "<p>Bonjour, voici votre facture.</p>",
            "author_id": author.partner_id.id,
        })
        mail.send()
        return mail

    @staticmethod
    def stored_password(mailbox):
        """The password ``mailbox`` gives for its own servers (as the mail queue asks for it)."""
        return mailbox.sudo()._mcl_decrypt_password(*mailbox._mcl_sealed_endpoints())

    def connect_mailbox(self, user, address, password, **values):
        form = self.setup_form(user, address, password, **values)
        action = form.action_test_and_save()
        self.assertEqual(action.get("tag"), "display_notification", form.diagnosis)
        return self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)])
