"""Prefill on a custom domain: settings found in a local DNS server that the test starts itself."""

import uuid
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import config

from .common import SECRET_MARKER, MailboxCase

# isort: split
from mailstack.discovery import DnsServer  # after .common, which puts the repository's scripts/ on sys.path

SRV_DOMAIN = "maison-sante-lilas.test"
MX_DOMAIN = "cabinet-ovh.test"


@tagged("post_install", "-at_install")
class TestMailboxDiscovery(MailboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        records = [
            (f"_imaps._tcp.{SRV_DOMAIN}", "SRV", f"0 1 {cls.ports['imaps']} localhost."),
            (f"_submissions._tcp.{SRV_DOMAIN}", "SRV", f"0 1 {cls.ports['smtps']} localhost."),
            (MX_DOMAIN, "MX", "10 mx3.mail.ovh.net."),
        ]
        dns_server = DnsServer(records).__enter__()
        cls.addClassCleanup(dns_server.__exit__, None, None, None)
        options = patch.dict(config.options, {"mcl_mailbox_dns": dns_server.address})
        options.start()
        cls.addClassCleanup(options.stop)

    def prefill(self, address, password=False):
        form = self.env["mcl.mailbox.setup"].with_user(self.doctor).create(
            {"terms_accepted": True, "email": address, "mcl_password": password})
        form.action_prefill()
        return form

    def test_srv_records_configure_a_custom_domain_then_the_test_saves(self):
        token = uuid.uuid4().hex[:10]
        address, password = f"lilas-{token}@{SRV_DOMAIN}", f"{SECRET_MARKER}{token}"
        self.stack.add_user(address, password)
        form = self.prefill(address, password)
        self.assertEqual(form.mcl_provider_id, self.env.ref("mcl_mailbox.provider_manual"))
        self.assertEqual((form.imap_host, form.imap_port, form.imap_encryption), ("localhost", self.ports["imaps"], "ssl"))
        self.assertEqual((form.smtp_host, form.smtp_port, form.smtp_encryption), ("localhost", self.ports["smtps"], "ssl"))
        self.assertEqual((form.login, form.name), (address, SRV_DOMAIN))
        self.assertIn(f"SRV records _imaps._tcp.{SRV_DOMAIN}, _submissions._tcp.{SRV_DOMAIN}", form.prefill_source)
        self.assertIn("Test connection and save", form.prefill_source)
        self.assertFalse(form.diagnosis)
        self.assertFalse(self.env["ir.mail_server"].sudo().search([("mcl_email", "=", address)]),
                         "Prefill saves nothing")
        action = form.action_test_and_save()
        self.assertEqual(action.get("tag"), "display_notification", form.diagnosis)

    def test_mx_records_pick_the_preset(self):
        form = self.prefill(f"dr.roux@{MX_DOMAIN}")
        self.assertEqual(form.mcl_provider_id, self.env.ref("mcl_mailbox.provider_ovh"))
        self.assertEqual((form.imap_host, form.smtp_host, form.login), ("ssl0.ovh.net", "ssl0.ovh.net", f"dr.roux@{MX_DOMAIN}"))
        self.assertIn("hosted by OVHcloud (MX record mx3.mail.ovh.net)", form.prefill_source)

    def test_unknown_domain_gives_the_manual_form(self):
        form = self.prefill("vous@votresiteweb.test")
        self.assertEqual(form.mcl_provider_id, self.env.ref("mcl_mailbox.provider_manual"))
        self.assertEqual(form.login, "vous@votresiteweb.test")
        self.assertFalse(form.imap_host)
        self.assertFalse(form.prefill_source)
        self.assertIn("No preset covers “vous@votresiteweb.test”, and its domain publishes no mail settings", form.diagnosis)

    def test_a_chosen_preset_is_kept_when_the_domain_publishes_nothing(self):
        form = self.env["mcl.mailbox.setup"].with_user(self.doctor).create({
            "terms_accepted": True, "email": "dr.roux@mon-cabinet-workspace.test",
            "mcl_provider_id": self.env.ref("mcl_mailbox.provider_gmail").id,
        })
        form.action_prefill()
        self.assertEqual(form.mcl_provider_id, self.env.ref("mcl_mailbox.provider_gmail"))
        self.assertEqual((form.imap_host, form.smtp_host), ("imap.gmail.com", "smtp.gmail.com"))
        self.assertIn("which you chose, are kept", form.prefill_source)
        self.assertFalse(form.diagnosis)
