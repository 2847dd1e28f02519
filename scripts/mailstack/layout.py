"""Where the mail stack keeps its files and which ports it listens on."""

import json
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT_BASE = 10000
# Service name -> offset added to the port base.
PORT_OFFSETS = {
    "imaps": 993,
    "imap": 143,
    "smtps": 465,
    "submission": 587,
    "imap_replay": 994,
    "smtps_untrusted": 466,
    "smtps_expired": 467,
    "smtps_wronghost": 468,
    "oauth": 443,
}


class StackError(Exception):
    """A one-line cause (and fix) for the caller to print."""


@dataclass(frozen=True)
class Layout:
    """Paths and ports of one stack, all derived from its run directory and port base."""

    dir: Path
    port_base: int

    @classmethod
    def load(cls, directory, port_base=None):
        """Layout for `directory`; the port base defaults to the one recorded by the last start."""
        directory = Path(directory).resolve()
        if port_base is None:
            port_base = recorded_port_base(directory) or DEFAULT_PORT_BASE
        layout = cls(directory, int(port_base))
        layout.check_ports()
        return layout

    def check_ports(self):
        """Refuse a port base that pushes a port out of the TCP range."""
        if not all(0 < port < 65536 for port in self.ports.values()):
            top = 65535 - max(PORT_OFFSETS.values())
            raise StackError(f"port base {self.port_base} is out of range: pick one between 1 and {top}")

    @property
    def ports(self):
        return {name: self.port_base + offset for name, offset in PORT_OFFSETS.items()}

    @property
    def ca_file(self):
        return self.dir / "ca.pem"

    @property
    def ca_bundle(self):
        """The system's trusted CAs plus the test CA: for SSL_CERT_FILE in processes that also reach real servers."""
        return self.dir / "ca-bundle.pem"

    @property
    def tls_dir(self):
        return self.dir / "tls"

    @property
    def passwd(self):
        return self.dir / "passwd"

    @property
    def mail_dir(self):
        return self.dir / "mail"

    @property
    def relay_dir(self):
        return self.dir / "relay"

    @property
    def dovecot_conf(self):
        return self.dir / "dovecot.conf"

    @property
    def dovecot_base(self):
        return self.dir / "dovecot"

    @property
    def dovecot_log(self):
        return self.dir / "dovecot.log"

    @property
    def lmtp_socket(self):
        return self.dovecot_base / "lmtp"

    @property
    def dovecot_pidfile(self):
        return self.dovecot_base / "master.pid"

    @property
    def servers_pidfile(self):
        return self.dir / "servers.pid"

    @property
    def servers_log(self):
        return self.dir / "servers.log"

    @property
    def smtp_stats(self):
        return self.dir / "smtp-stats.json"

    @property
    def smtp_replies(self):
        return self.dir / "smtp-replies.json"

    @property
    def imap_replies(self):
        return self.dir / "imap-replies.json"

    @property
    def oauth_clients(self):
        return self.dir / "oauth-clients.json"

    @property
    def oauth_users(self):
        return self.dir / "oauth-users.json"

    @property
    def oauth_revocations(self):
        return self.dir / "oauth-revocations.json"

    @property
    def oauth_grants(self):
        return self.dir / "oauth-grants.json"

    @property
    def oauth_stats(self):
        return self.dir / "oauth-stats.json"

    @property
    def dovecot_oauth2_conf(self):
        return self.dir / "dovecot-oauth2.conf.ext"

    @property
    def state_file(self):
        return self.dir / "stack.json"


def recorded_port_base(directory):
    """The port base written by the last start in `directory`, or None."""
    try:
        return json.loads((Path(directory) / "stack.json").read_text())["port_base"]
    except (OSError, ValueError, KeyError):
        return None
