"""Real local servers for the connection-probe tests: a throw-away PKI, SMTP, IMAP and hostile ones.

Everything listens on 127.0.0.1. Provider error strings are replayed through the real
protocols, keyed by the login the probe sends.
"""

import datetime
import ipaddress
import re
import socket
import socketserver
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mailstack.testserver import ThreadedTCPServer

HOST = "127.0.0.1"
USER = "doc@example.com"
# Spaces, quotes and a backslash: the IMAP LOGIN must quote it to get through whole.
PASSWORD = 'ohgh uylv "xk\\wd" zgbz'
REFUSED_SENDER = "refused@example.com"
BLOCKED_RECIPIENT = "blocked@example.com"
FOREIGN_BANNER = b"SSH-2.0-OpenSSH_9.2p1 internal-bastion-7f3a"  # must never be quoted in a diagnosis
ECHO_LOGIN = "echo@example.com"  # the IMAP responder echoes this LOGIN line back in a BAD reply

SMTP_AUTH_REPLIES = {
    "gmail-app@example.com": "534-5.7.9 Application-specific password required. Learn more at\r\n"
    "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp",
    "gmail-web@example.com": "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please log in via your "
    "web browser and\r\n534-5.7.14 then try again.\r\n534 5.7.14  https://support.google.com/mail/answer/78754",
    "gmail-bad@example.com": "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
    "535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp",
    "ms-basic@example.com": "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
    "ms-tenant@example.com": "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
    "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
    "ms-removed@example.com": "550 5.7.30 Basic authentication is not supported for Client Submission.",
    "yahoo-many@example.com": "535 5.7.0 (#AUTH005) Too many bad auth attempts.",
    "busy@example.com": "421 4.7.0 Too many login attempts, please try again later.",
}

IMAP_LOGIN_REPLIES = {
    "gmail-app@example.com": "NO [ALERT] Application-specific password required: "
    "https://support.google.com/accounts/answer/185833 (Failure)",
    "gmail-off@example.com": "NO [ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings "
    "page and enable your account for IMAP access. (Failure)",
    "gmail-domain@example.com": "NO [ALERT] IMAP access is disabled for your domain. (Failure)",
    "gmail-web@example.com": "NO [WEBALERT https://accounts.google.com/signin/continue?sarp=1] Web login required.",
    "ms-basic@example.com": "NO Basic authentication is disabled.",
    "ms-login@example.com": "NO LOGIN failed.",
    "yahoo-bad@example.com": "NO [AUTHENTICATIONFAILED] (#MBR1212) Incorrect username or password.",
}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- PKI ----------------------------------------------------------------------------------------


@dataclass
class Pki:
    """A throw-away CA plus server certificates: good, self-signed, expired, wrong host."""

    ca_file: Path
    pairs: dict = field(default_factory=dict)  # kind -> (certificate path, key path)

    def server_context(self, kind="good"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.pairs[kind])
        return context


def make_pki(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("mcl test CA")
    ca_cert = _certificate(
        ca_name, ca_key.public_key(), (ca_name, ca_key), (now, now + datetime.timedelta(days=1)), ca=True
    )
    pki = Pki(ca_file=_write(directory / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM)))
    localhost = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    day = datetime.timedelta(days=1)
    specs = {  # kind: (names, validity start, validity end, self-signed)
        "good": (localhost, now - day, now + day, False),
        "self_signed": (localhost, now - day, now + day, True),
        "expired": (localhost, now - 30 * day, now - day, False),
        "wrong_host": ([x509.DNSName("wrong.example")], now - day, now + day, False),
    }
    for kind, (names, start, end, self_signed) in specs.items():
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(f"mcl test {kind}")
        issuer, issuer_key = (subject, key) if self_signed else (ca_name, ca_key)
        cert = _certificate(subject, key.public_key(), (issuer, issuer_key), (start, end), names=names)
        pki.pairs[kind] = (
            _write(directory / f"{kind}.pem", cert.public_bytes(serialization.Encoding.PEM)),
            _write(directory / f"{kind}.key", _key_pem(key)),
        )
    return pki


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, public_key, signer, validity, *, names=(), ca=False):
    """A certificate for ``subject``; ``signer`` is (issuer name, issuer key), ``validity`` (start, end)."""
    (issuer, issuer_key), (start, end) = signer, validity
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path, data):
    path.write_bytes(data)
    return path


# --- SMTP (aiosmtpd) ----------------------------------------------------------------------------


class SmtpHandler:
    """Accepts USER/PASSWORD, replays provider failures by login, refuses one sender and one recipient."""

    def __init__(self):
        self.auth_attempts = []
        self.recipients = []
        self.messages = []

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.auth_attempts.append(login)
        if login in SMTP_AUTH_REPLIES:
            return AuthResult(success=False, handled=False, message=SMTP_AUTH_REPLIES[login])
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address == REFUSED_SENDER:
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == BLOCKED_RECIPIENT:
            return "550 5.7.1 Relaying denied"
        self.recipients.append(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def start_smtp(pki, security):
    """An aiosmtpd server with implicit TLS ('ssl') or STARTTLS; AUTH is offered only over TLS."""
    handler = SmtpHandler()
    options = {"ssl_context": pki.server_context(), "auth_require_tls": False}
    if security == "starttls":
        options = {"tls_context": pki.server_context()}
    controller = Controller(
        handler,
        hostname=HOST,
        port=free_port(),
        server_hostname="localhost",
        authenticator=handler.authenticate,
        **options,
    )
    controller.start()
    return controller


# --- Threaded TCP servers -----------------------------------------------------------------------


class ImapResponder(ThreadedTCPServer):
    """A tiny IMAP4rev1 server: CAPABILITY, STARTTLS, LOGIN, LIST, EXAMINE/SELECT, LOGOUT."""

    def __init__(self, implicit_tls=None, starttls=None):
        self.implicit_tls = implicit_tls
        self.starttls = starttls
        self.logins = []  # (login, password) as the server parsed them
        self.commands = []
        super().__init__(_ImapSession)


class _ImapSession(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        self.sock = self.request
        try:
            if self.server.implicit_tls:
                self.sock = self.server.implicit_tls.wrap_socket(self.sock, server_side=True)
            self.reader = self.sock.makefile("rb")
            self.send("* OK IMAP4rev1 test responder ready")
            while self.serve_one_command():
                pass
        except (OSError, ValueError):
            pass  # the probe went away or never spoke TLS

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def serve_one_command(self):
        line = self.reader.readline().decode().rstrip("\r\n")
        if not line:
            return False
        tag, command, rest = [*line.split(" ", 2), "", ""][:3]
        command = command.upper()
        self.server.commands.append(command)
        respond = getattr(self, f"do_{command.lower()}", None)
        if respond is None:
            self.send(f"{tag} BAD unknown command")
            return True
        return respond(tag, rest) is not False

    def do_capability(self, tag, rest):
        extra = " STARTTLS" if self.server.starttls and self.sock is self.request else ""
        self.send(f"* CAPABILITY IMAP4rev1 AUTH=PLAIN{extra}")
        self.send(f"{tag} OK CAPABILITY completed")

    def do_starttls(self, tag, rest):
        self.send(f"{tag} OK Begin TLS negotiation now")
        self.sock = self.server.starttls.wrap_socket(self.request, server_side=True)
        self.reader = self.sock.makefile("rb")

    def do_login(self, tag, rest):
        args = _parse_arguments(rest)
        self.server.logins.append(tuple(args))
        if len(args) != 2:
            self.send(f"{tag} BAD Too many arguments")
        elif args[0] == ECHO_LOGIN:
            self.send(f"{tag} BAD Too many arguments: {rest}")
        elif args[0] in IMAP_LOGIN_REPLIES:
            self.send(f"{tag} {IMAP_LOGIN_REPLIES[args[0]]}")
        elif tuple(args) == (USER, PASSWORD):
            self.send(f"{tag} OK LOGIN completed")
        else:
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)")

    def do_list(self, tag, rest):
        self.send('* LIST (\\HasNoChildren) "/" "INBOX"')
        self.send(f"{tag} OK LIST completed")

    def do_examine(self, tag, rest):
        self.send("* FLAGS (\\Seen)")
        self.send("* 0 EXISTS")
        self.send("* 0 RECENT")
        self.send("* OK [UIDVALIDITY 1] UIDs valid")
        self.send(f"{tag} OK [READ-ONLY] EXAMINE completed")

    do_select = do_examine

    def do_logout(self, tag, rest):
        self.send("* BYE logging out")
        self.send(f"{tag} OK LOGOUT completed")
        return False


_ARGS = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def _parse_arguments(text):
    """IMAP atoms and quoted strings (backslash escapes undone)."""
    return [re.sub(r"\\(.)", r"\1", quoted) if quoted else atom for quoted, atom in _ARGS.findall(text)]


class HostileServer(ThreadedTCPServer):
    """A server that misbehaves in one way, named by ``behaviour`` (a method of _HostileSession)."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.accepted_at = []  # time.monotonic() of each connection
        super().__init__(_HostileSession)


class _HostileSession(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.accepted_at.append(time.monotonic())
        self.request.settimeout(10)
        try:
            getattr(self, self.server.behaviour)()
        except OSError:
            pass

    def silent(self):
        """Accept, then never send a byte."""
        self.server.stopping.wait()

    def trickle(self):
        """Send one byte every 0.3 s, never a full line, for 6 s: a 1 s socket timeout never fires."""
        for _ in range(20):
            if self.server.stopping.wait(0.3):
                return
            self.request.sendall(b"2")

    def flood(self):
        """Send bytes without a line end, as fast as the client reads them."""
        while not self.server.stopping.is_set():
            self.request.sendall(b"A" * 65536)

    def close_in_handshake(self):
        """Read the TLS ClientHello, then hang up."""
        self.request.recv(4096)

    def greet_then_silent(self):
        """Greet as an SMTP server would, then never answer."""
        self.request.sendall(b"220 mail.example ESMTP\r\n")
        self.server.stopping.wait()

    def greet_then_close(self):
        """Greet as an SMTP or IMAP server would, then hang up before any reply."""
        self.request.sendall(b"220 mail.example ESMTP\r\n")
        self.request.recv(4096)

    def continuation_flood(self):
        """Greet as an SMTP server, then answer EHLO with "250-" lines that never end."""
        self.request.sendall(b"220 mail.example ESMTP\r\n")
        self.request.recv(4096)
        while not self.server.stopping.is_set():
            self.request.sendall(b"250-x\r\n" * 1000)

    def foreign_banner(self):
        """A service that is no mail server (SSH): its banner, then silence."""
        self.request.sendall(FOREIGN_BANNER + b"\r\n")
        self.server.stopping.wait()

    def pregreet_guard(self):
        """A plaintext server that hangs up on clients speaking before its greeting."""
        self.request.settimeout(0.2)
        try:
            if self.request.recv(1):
                return
        except TimeoutError:
            self.request.sendall(b"220 mail.example ESMTP\r\n")
            self.server.stopping.wait()
