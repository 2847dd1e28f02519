"""Shared set-up: users of a practice, and accounts on the local mail stack.

The stack (Dovecot + aiosmtpd, see scripts/mailstack) is started by the test
command; MCL_MAILSTACK_DIR and MCL_MAILSTACK_PORT_BASE say where it runs.
"""

import os
import sys
import uuid
from pathlib import Path

from odoo.tests import TransactionCase, new_test_user

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))

from mailstack import Stack  # noqa: E402  (lives in the repository's scripts/)

# Every test password contains this marker, so the test command can check that
# no log and no database dump ever shows one.
SECRET_MARKER = os.environ.get("MCL_TEST_SECRET", "mcltestsecret")
DOMAIN = "practice.test"
ACCOUNT_BATCH = 24
ACCOUNT_POOL = []  # accounts already on the stack, not yet handed out


def local_stack():
    directory = os.environ["MCL_MAILSTACK_DIR"]  # set by scripts/run_tests.sh
    return Stack(directory, int(os.environ.get("MCL_MAILSTACK_PORT_BASE", "20000")))


class MailboxCase(TransactionCase):
    """Two practitioners, a secretary, an administrator, and a provider preset for the local stack."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack = local_stack()
        cls.ports = cls.stack.ports
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
