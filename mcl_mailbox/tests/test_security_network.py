"""Where a stored password may go, where the set-up test may connect, and which addresses a user may
register (security review F3, F5, F8, F9, F11, F12), tried as an attacker would."""

import os
import socket
import time
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import config

from odoo.addons.mcl_mailbox.core import probe
from odoo.addons.mcl_mailbox.wizards.mcl_mailbox_setup import (
    PRIVATE_HOSTS_ENVIRON,
    PRIVATE_HOSTS_OPTION,
    private_hosts_allowed,
)

from .common import MailboxCase
from .hostile_servers import FOREIGN_BANNER, HostileServer, server_tls_context
from .recording_servers import RecordingServer
from .security_common import RpcMixin

# isort: split
from mailstack.discovery import DnsServer  # after .common, which puts the repository's scripts/ on sys.path

CONNECTION_TIMEOUT = 3  # seconds: MailboxCase's mcl_mailbox.connection_timeout
PUBLIC_ADDRESS = "93.184.216.34"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "127.1", "0x7f.1", "2130706433", "10.0.0.1", "192.168.1.1",
               "169.254.169.254", "100.64.0.1")
DISCOVERY_DOMAIN = "maison-sante-acacias.test"


def private_hosts_refused():
    """odoo.conf as in production: the local-network guard on."""
    return patch.dict(config.options, {PRIVATE_HOSTS_OPTION: False})


def fake_dns(answers):
    """socket.getaddrinfo answering ``answers`` {name: [address, ...]} (one per lookup, the last repeated)."""
    real = socket.getaddrinfo
    lookups = {name: list(addresses) for name, addresses in answers.items()}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in lookups:
            return real(host, port, *args, **kwargs)
        queue = lookups[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    return patch("socket.getaddrinfo", getaddrinfo)


def failing_check(captured):
    """A stand-in for probe.check_both that records the endpoints and reports both sides unreachable."""
    def check_both(imap_endpoint, smtp_endpoint, *args, **kwargs):
        captured.extend([imap_endpoint, smtp_endpoint])
        return {side: probe.Diagnosis(side, "refused", "") for side in ("imap", "smtp")}
    return check_both


class IncomingServerCase(MailboxCase):
    def trap(self, certificate="server"):
        """An IMAP server over TLS (one of the stack's certificates) that accepts any login and records it."""
        tls = self.stack.layout.tls_dir
        trap = RecordingServer("imap", server_tls_context(tls / f"{certificate}.pem", tls / f"{certificate}.key"))
        self.addCleanup(trap.stop)
        return trap

    def incoming_server(self, port, is_ssl=True):
        """A shared inbox an administrator set up with an encrypted password, on localhost:``port``."""
        address, password = self.new_account()
        return self.env["fetchmail.server"].with_user(self.admin).create({
            "name": "Practice inbox", "server_type": "imap", "server": "localhost", "port": port,
            "is_ssl": is_ssl, "user": address, "mcl_password": password,
        })


@tagged("post_install", "-at_install")
class TestFetchmailConnection(IncomingServerCase):
    """F5: Odoo's own IMAP connection (fetch cron, Test & Confirm, Fetch Now) checks no certificate."""

    def test_a_bad_certificate_is_refused_before_any_login(self):
        for certificate in ("untrusted", "expired", "wronghost"):
            trap = self.trap(certificate)
            server = self.incoming_server(trap.port)
            with self.assertRaisesRegex(UserError, "(?i)certificate verify failed"):
                server.button_confirm_login()
            with self.assertRaisesRegex(ValidationError, "(?i)certificate verify failed"):
                server.fetch_mail()
            server.state = "done"  # confirmed before the certificate changed: the fetch cron
            self.env["fetchmail.server"]._fetch_mails()
            self.assertFalse(trap.heard("LOGIN", "AUTHENTICATE"), f"{certificate}: the password reached the server")

    def test_a_stored_password_never_goes_over_plain_imap(self):
        recorder = HostileServer("imap_recorder")
        self.addCleanup(recorder.stop)
        server = self.incoming_server(recorder.port, is_ssl=False)
        for attempt in (server.button_confirm_login, server.fetch_mail):
            with self.assertRaisesRegex(UserError, "only over IMAP with SSL/TLS, never in clear text"):
                attempt()
        self.assertEqual(recorder.received, [], "nothing was sent to the plaintext server")

    def test_a_silent_server_is_given_up_within_the_timeout(self):
        silent = HostileServer("silent_then_close")
        self.addCleanup(silent.stop)
        server = self.incoming_server(silent.port)
        start = time.monotonic()
        with self.assertRaisesRegex(UserError, "No response received"):
            server.button_confirm_login()
        self.assertLess(time.monotonic() - start, 3 * CONNECTION_TIMEOUT)

    def test_a_good_certificate_is_accepted(self):
        trap = self.trap()
        server = self.incoming_server(trap.port)
        server.button_confirm_login()
        self.assertEqual(server.state, "done")
        self.assertTrue(trap.heard("LOGIN"))


@tagged("post_install", "-at_install")
class TestFetchmailTestButtonOverRpc(RpcMixin, HttpCase, IncomingServerCase):
    """F8: the button that logs in to a shared inbox with its stored password is for administrators."""

    def test_only_an_administrator_makes_odoo_log_in(self):
        trap = self.trap()
        server = self.incoming_server(trap.port)
        patient = new_test_user(self.env, "mcl_portal_patient", groups="base.group_portal",
                                email="jeanne.petit@patients.test")
        for user in (patient, self.physio):
            result, error = self.xmlrpc(user, "fetchmail.server", "action_mcl_test_connection", server.ids)
            self.assertIn("AccessError", error, f"{user.login} got {result!r}")
        self.assertEqual(trap.received, [], "no connection reached the inbox")
        result, error = self.xmlrpc(self.admin, "fetchmail.server", "action_mcl_test_connection", server.ids)
        self.assertEqual((result or {}).get("params", {}).get("type"), "success", error)


@tagged("post_install", "-at_install")
class TestSetUpReach(MailboxCase):
    """F9, F12: the set-up test (and Prefill) of a user does not reach the practice's internal network."""

    def saved(self, address):
        return self.env["ir.mail_server"].sudo().with_context(active_test=False).search([("mcl_email", "=", address)])

    def test_a_user_cannot_point_the_test_at_a_local_or_private_address(self):
        address, password = self.new_account()
        public = {"imap_host": "imap.provider.test", "smtp_host": "smtp.provider.test"}
        dns = fake_dns({"imap.provider.test": [PUBLIC_ADDRESS], "smtp.provider.test": [PUBLIC_ADDRESS]})
        with private_hosts_refused(), dns, patch.object(probe, "check_both") as check:
            for side, label in (("imap", "IMAP server"), ("smtp", "SMTP server")):
                for host in LOCAL_HOSTS:
                    form = self.setup_form(self.doctor, address, password, **dict(public, **{f"{side}_host": host}))
                    with self.assertRaisesRegex(UserError, f"{label} “{host}” is an IP address or a local network"):
                        form.action_test_and_save()
            check.assert_not_called()
        self.assertFalse(self.saved(address))

    def test_a_name_is_resolved_once_and_the_test_connects_to_that_address(self):
        """DNS rebinding: the name answers a public address to the check, then a local one."""
        address, password = self.new_account()
        captured = []
        dns = fake_dns({"mail.rebind.test": [PUBLIC_ADDRESS, PUBLIC_ADDRESS, "127.0.0.1"]})
        with private_hosts_refused(), dns, patch.object(probe, "check_both", failing_check(captured)):
            form = self.setup_form(self.doctor, address, password, imap_host="mail.rebind.test",
                                   smtp_host="mail.rebind.test")
            form.action_test_and_save()
        self.assertEqual([(endpoint.host, endpoint.address) for endpoint in captured],
                         [("mail.rebind.test", PUBLIC_ADDRESS)] * 2,
                         "each side connects to the address checked, the certificate is checked for the name")
        self.assertFalse(self.saved(address))

    def test_an_administrator_may_test_a_local_server(self):
        address, password = self.new_account()
        with private_hosts_refused():
            self.assertTrue(self.connect_mailbox(self.admin, address, password))

    def test_what_a_non_mail_service_says_is_not_shown(self):
        server = HostileServer("banner")
        self.addCleanup(server.stop)
        address, password = self.new_account()
        form = self.setup_form(self.doctor, address, password, imap_port=server.port, imap_encryption="starttls",
                               smtp_port=server.port, smtp_encryption="starttls")
        form.action_test_and_save()
        self.assertEqual(form.diagnosis.count("not what a mail server says"), 2, form.diagnosis)
        for shown in ("OpenSSH", FOREIGN_BANNER.decode().split()[-1]):
            self.assertNotIn(shown, form.diagnosis)
        self.assertFalse(self.saved(address))

    def test_prefill_proposes_no_local_server_whatever_the_nameserver(self):
        """The test nameserver option (mcl_mailbox_dns) no longer turns the guard off."""
        dns_server = DnsServer([
            (f"_imaps._tcp.{DISCOVERY_DOMAIN}", "SRV", f"0 1 {self.ports['imaps']} localhost."),
            (f"_submissions._tcp.{DISCOVERY_DOMAIN}", "SRV", f"0 1 {self.ports['smtps']} localhost."),
        ]).__enter__()
        self.addCleanup(dns_server.__exit__, None, None, None)
        Setup = self.env["mcl.mailbox.setup"]
        with private_hosts_refused(), patch.dict(config.options, {"mcl_mailbox_dns": dns_server.address}):
            form = Setup.with_user(self.doctor).create({"terms_accepted": True, "email": f"dr@{DISCOVERY_DOMAIN}"})
            form.action_prefill()
            self.assertFalse(form.imap_host or form.smtp_host)
            self.assertIn("point to a local network address: they are not used", form.diagnosis)
            form = Setup.with_user(self.admin).create({"terms_accepted": True, "email": f"dr@{DISCOVERY_DOMAIN}"})
            form.action_prefill()
            self.assertEqual((form.imap_host, form.smtp_host), ("localhost", "localhost"), "administrators may")

    def test_only_the_explicit_option_allows_local_servers(self):
        Setup = self.env["mcl.mailbox.setup"].with_user(self.doctor)
        with private_hosts_refused(), patch.dict(config.options, {"mcl_mailbox_dns": "127.0.0.1:53"}):
            self.assertFalse(Setup._mcl_private_hosts_allowed())
        with patch.dict(config.options), patch.dict(os.environ, {PRIVATE_HOSTS_ENVIRON: "1"}):
            config.options.pop(PRIVATE_HOSTS_OPTION, None)
            self.assertTrue(private_hosts_allowed(), "from the environment when odoo.conf says nothing")
            config.options[PRIVATE_HOSTS_OPTION] = False
            self.assertFalse(private_hosts_allowed(), "odoo.conf wins")


@tagged("post_install", "-at_install")
class TestAddressRegistration(MailboxCase):
    """F3, F11: a user registers as their mailbox neither a colleague's address nor one of Odoo's own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alias_domain = cls.env["mail.alias.domain"].create({"name": "practice-mail.test"})
        cls.env.company.alias_domain_id = cls.alias_domain
        other_domain = cls.env["mail.alias.domain"].create({"name": "second-practice.test"})
        cls.env["res.company"].create({"name": "Second practice", "alias_domain_id": other_domain.id})
        cls.env["mail.alias"].create({
            "alias_name": "factures", "alias_domain_id": cls.alias_domain.id,
            "alias_model_id": cls.env["ir.model"]._get_id("res.partner"),
        })

    def form(self, user, address):
        return self.env["mcl.mailbox.setup"].with_user(user).create({
            "terms_accepted": True, "name": "Cabinet", "email": address, "login": address,
            "mcl_password": "not-tested", "mcl_provider_id": self.provider.id,
            "imap_host": "localhost", "imap_port": self.ports["imaps"],
            "smtp_host": "localhost", "smtp_port": self.ports["smtps"],
        })

    def assert_refused(self, address, pattern, user=None):
        form = self.form(user or self.physio, address)
        with patch.object(probe, "check_both") as check, self.assertRaisesRegex(ValidationError, pattern):
            form.action_test_and_save()
        check.assert_not_called()  # refused before the password goes anywhere
        self.assertFalse(self.env["ir.mail_server"].sudo().search_count([("mcl_email", "=ilike", address)]))

    def test_a_colleagues_address_is_refused(self):
        new_test_user(self.env, "dr.leroy@cabinet.test", email="cabinet.leroy@cabinet.test")
        patient = new_test_user(self.env, "mcl_portal_patient", groups="base.group_portal",
                                email="jeanne.petit@patients.test")
        archived = new_test_user(self.env, "mcl_former", email="ancien.associe@cabinet.test")
        archived.active = False
        for address in (self.doctor.email, "Claire.Martin@Cabinet.test", "DR.LEROY@cabinet.test",
                        patient.email, archived.email):
            self.assert_refused(address, "email address of another Odoo user")

    def test_odoos_own_addresses_are_refused(self):
        for address in ("notifications@practice-mail.test", "bounce@practice-mail.test",
                        "catchall@practice-mail.test", "notifications@second-practice.test"):
            self.assert_refused(address, "an address Odoo itself sends or receives with")
        with patch.dict(config.options, {"email_from": "odoo@cabinet.test"}):
            self.assert_refused("odoo@cabinet.test", "an address Odoo itself sends or receives with")
        self.assert_refused("factures@practice-mail.test", "an alias that brings incoming mail into Odoo")

    def test_any_other_path_is_refused_too(self):
        """The rule is a constraint of the mailbox: creating or changing it directly is refused alike."""
        Mailbox = self.env["ir.mail_server"].sudo()
        values = {"name": "x", "smtp_host": "localhost", "owner_user_id": self.physio.id}
        for address in (self.doctor.email, "notifications@practice-mail.test"):
            with self.assertRaises(ValidationError):
                Mailbox.create(dict(values, mcl_email=address, from_filter=address))
        own = Mailbox.create(dict(values, owner_user_id=self.doctor.id, mcl_email=self.doctor.email))
        for change, refusal in (({"owner_user_id": self.physio.id}, "email address of another Odoo user"),
                                ({"mcl_email": "factures@practice-mail.test"}, "an alias that brings incoming mail")):
            with self.assertRaises(ValidationError) as caught:  # Odoo's assertRaises rolls the change back
                own.write(change)
            self.assertIn(refusal, str(caught.exception))
        own.invalidate_recordset()
        self.assertEqual((own.owner_user_id, own.mcl_email), (self.doctor, self.doctor.email), "left as it was")

    def test_a_colleague_taking_the_address_later_does_not_lock_the_owner_out(self):
        """Review N4: the physio sets her own e-mail to the doctor's mailbox address; the doctor can still
        re-enter her app password."""
        address, password = self.new_account()
        mailbox = self.connect_mailbox(self.doctor, address, password)
        self.physio.email = address
        Setup = self.env["mcl.mailbox.setup"].with_user(self.doctor)
        form = Setup.browse(mailbox.with_user(self.doctor).action_mcl_open_setup()["res_id"])
        form.mcl_password = password
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        self.assertEqual(mailbox.mcl_state, "connected")

    def test_equivalent_spellings_of_an_address_are_refused(self):
        """Review N5: a trailing dot or a quoted local part would dodge the comparison with other addresses."""
        for address in (f"{self.doctor.email}.", f'"claire.martin"@{self.doctor.email.partition("@")[2]}'):
            form = self.env["mcl.mailbox.setup"].with_user(self.physio).create({"terms_accepted": True,
                                                                                "email": address})
            with self.assertRaisesRegex(UserError, "is not a valid email address"):
                form._normalized_email()
