"""Prefill for custom domains: the settings the address's domain publishes (autoconfig, SRV, MX)."""

import logging
import os

from odoo import _, api, fields, models
from odoo.tools import config

from ..core import discovery, probe
from ..models.mcl_mailbox_mixin import configured_ca_file
from ..models.mcl_mailbox_provider import _split_list

_logger = logging.getLogger(__name__)

DNS_OPTION = "mcl_mailbox_dns"
DNS_ENVIRON = "MCL_MAILBOX_DNS"
LOGIN_TEMPLATES = {"address": discovery.ADDRESS, "local_part": discovery.LOCAL_PART}


def configured_dns():
    """The nameserver ('IP' or 'IP:PORT') to ask instead of the system's: local tests and offline demos."""
    return config.get(DNS_OPTION) or os.environ.get(DNS_ENVIRON) or None


class McLMailboxSetup(models.TransientModel):
    _inherit = "mcl.mailbox.setup"

    prefill_source = fields.Text(string="Where the settings come from", readonly=True)

    def _mcl_prefill_by_discovery(self, email):
        """Fill the form with the settings published for the address's domain, else ask for them."""
        proposal = self._mcl_discover(email)
        if proposal and not self._mcl_proposal_is_public(proposal):
            self._mcl_manual_settings(email, _(
                "The settings that the domain of “%(email)s” publishes point to a local network address: they "
                "are not used. Type the server settings your provider gives.", email=email,
            ))
            return
        if not proposal and self.mcl_provider_id.imap_host:
            # the user chose a preset (say Gmail for Google Workspace on their own domain): keep it
            self._apply_provider(self.mcl_provider_id)
            self.diagnosis = False
            self.prefill_source = _(
                "Your domain publishes no mail settings: the settings of %(provider)s, which you chose, are kept.",
                provider=self.mcl_provider_id.name,
            )
            return
        if not proposal:
            self._mcl_manual_settings(email, _(
                "No preset covers “%(email)s”, and its domain publishes no mail settings (no autoconfig file, "
                "no SRV records, no MX records of a known provider): type the server settings your provider gives.",
                email=email,
            ))
            return
        preset = self.env["mcl.mailbox.provider"].search([("code", "=", proposal.preset)], limit=1)
        if preset:
            self.mcl_provider_id = preset
            self._apply_provider(preset)
        else:
            self.mcl_provider_id = self.env.ref("mcl_mailbox.provider_manual", raise_if_not_found=False)
            self._mcl_apply_proposal(proposal, email)
        self.diagnosis = False
        self.prefill_source = self._mcl_source_text(proposal, preset)

    def _mcl_manual_settings(self, email, why):
        """The form for typing the server settings by hand, saying ``why``."""
        self.mcl_provider_id = self.env.ref("mcl_mailbox.provider_manual", raise_if_not_found=False)
        self.login = self.login or email
        self.prefill_source = False
        self.diagnosis = why

    def _mcl_proposal_is_public(self, proposal):
        """Whether the proposed servers may be used by this user: the same guard as the connection test."""
        if self._mcl_private_hosts_allowed():
            return True
        for server in filter(None, (proposal.imap, proposal.smtp)):
            try:
                probe.public_address(server.host)
            except probe.PrivateAddressError:
                return False
            except (OSError, UnicodeError):
                continue  # a name that does not resolve is explained by the connection test
        return True

    @api.model
    def _mcl_discover(self, email):
        """The discovery.Proposal for ``email``, or None; within discovery.DEFAULT_TIMEOUT seconds."""
        nameserver = configured_dns()
        try:
            resolver = discovery.make_resolver(nameserver)
        except ValueError as exc:
            _logger.warning("mail settings discovery is off: %s (option %s)", exc, DNS_OPTION)
            return None
        fetcher = discovery.HttpsFetcher(resolver, cafile=configured_ca_file(),
                                         allow_private=self._mcl_private_hosts_allowed())
        return discovery.discover(email, self._mcl_discovery_presets(), resolver=resolver, http_get=fetcher)

    @api.model
    def _mcl_discovery_presets(self):
        providers = self.env["mcl.mailbox.provider"].search([("mx_patterns", "!=", False), ("imap_host", "!=", False)])
        return [
            discovery.Preset(
                code=provider.code,
                mx_patterns=tuple(_split_list(provider.mx_patterns)),
                imap=discovery.Server(provider.imap_host, provider.imap_port, provider.imap_encryption),
                smtp=discovery.Server(provider.smtp_host, provider.smtp_port, provider.smtp_encryption),
                login=LOGIN_TEMPLATES[provider.login_format],
            )
            for provider in providers
        ]

    def _mcl_apply_proposal(self, proposal, email):
        for side, server in (("imap", proposal.imap), ("smtp", proposal.smtp)):
            if server:
                self.update({f"{side}_host": server.host, f"{side}_port": server.port,
                             f"{side}_encryption": server.security})
        self.login = proposal.login_for(email)
        self.name = self.name or email.rpartition("@")[2]

    def _mcl_source_text(self, proposal, preset):
        """Where the settings come from, what is missing or unsafe, and what to do next."""
        if proposal.source == "autoconfig":
            lines = [_("These settings come from the autoconfig file published at %(url)s.", url=proposal.origin)]
        elif proposal.source == "srv":
            lines = [_("These settings come from your domain's DNS (SRV records %(records)s).", records=proposal.origin)]
        else:
            lines = [_("Your domain's mail is hosted by %(provider)s (MX record %(host)s): its settings are filled in.",
                       provider=preset.name or proposal.preset, host=proposal.origin)]
        if not proposal.imap:
            lines.append(_("No incoming (IMAP) server was found: type it below."))
        if not proposal.smtp:
            lines.append(_("No outgoing (SMTP) server was found: type it below."))
        if proposal.plaintext:
            lines.append(_("Your domain offers these servers only without encryption: only an administrator can "
                           "save them, and the password would cross the network in clear text."))
        lines.append(_("Check them, then click “Test connection and save”: nothing is saved until both servers answer."))
        return "\n".join(lines)
