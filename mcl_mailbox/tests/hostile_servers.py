"""Small misbehaving servers on 127.0.0.1, to point the set-up form at."""

import contextlib
import itertools
import socketserver
import ssl

from . import common  # noqa: F401  (puts the repository's scripts/ on sys.path)

# isort: split
from mailstack.testserver import ThreadedTCPServer

# What a service that is no mail server says first (an SSH server here); it must never be shown.
FOREIGN_BANNER = b"SSH-2.0-OpenSSH_9.2p1 internal-bastion-7f3a"
TRICKLE_SECONDS = 30  # how long "trickle_after_login" keeps a reply open, one line every half second
FLOOD_LINES = 200_000  # continuation lines "flood_after_login" sends in one reply (1.4 MB)
SILENT_SECONDS = 20  # how long "silent_then_close" says nothing


class HostileServer(ThreadedTCPServer):
    """A server that misbehaves in one way, named by ``behaviour`` (a method of _Session).

    ``tls_context`` (a server context) wraps the connection first for "flood", "no_auth",
    "trickle_after_login", "flood_after_login", "vanish_after_data" and "silent_then_close".
    ``received`` holds the lines "imap_recorder" received, or the messages "vanish_after_data" kept.
    """

    def __init__(self, behaviour, tls_context=None):
        self.behaviour = behaviour
        self.tls_context = tls_context
        self.received = []
        self.sessions = itertools.count()
        super().__init__(_Session)


def server_tls_context(cert_file, key_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


class _Session(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        with contextlib.suppress(OSError, ValueError):  # the client gives up, as it should
            getattr(self, self.server.behaviour)()

    def _tls(self):
        return self.server.tls_context.wrap_socket(self.request, server_side=True)

    def silent(self):
        """Accept, then never send a byte (not even a TLS handshake)."""
        self.server.stopping.wait()

    def close_in_handshake(self):
        """Read the TLS ClientHello, then hang up."""
        self.request.recv(4096)

    def flood(self):
        """Complete the TLS handshake, then send bytes without a line end, forever."""
        sock = self._tls()
        while not self.server.stopping.is_set():
            sock.sendall(b"A" * 65536)

    def no_auth(self):
        """An SMTP server over TLS that offers no AUTH at all."""
        sock = self._tls()
        sock.sendall(b"220 localhost ESMTP\r\n")
        for line in sock.makefile("rb"):
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                sock.sendall(b"250-localhost\r\n250 8BITMIME\r\n")
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"530 5.7.0 Authentication required\r\n")

    def silent_then_close(self):
        """Complete nothing (not even the TLS handshake) for SILENT_SECONDS, then hang up."""
        self.server.stopping.wait(SILENT_SECONDS)

    def banner(self):
        """A service that is no mail server: its banner, then silence."""
        self.request.sendall(FOREIGN_BANNER + b"\r\n")
        self.server.stopping.wait()

    def imap_recorder(self):
        """A plaintext IMAP server that accepts everything and records every line it receives."""
        sock = self.request
        sock.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        for line in sock.makefile("rb"):
            self.server.received.append(line.decode("utf-8", "replace"))
            tag, _space, command = line.partition(b" ")
            verb = command.split(b" ", 1)[0].strip().upper()
            if verb == b"CAPABILITY":
                sock.sendall(b"* CAPABILITY IMAP4rev1\r\n")
            sock.sendall(tag + b" OK done\r\n")
            if verb == b"LOGOUT":
                return

    def trickle_after_login(self):
        """SMTP over TLS that passes the set-up test; on later connections it accepts the login, then
        answers MAIL FROM with one "250-" line every half second for TRICKLE_SECONDS."""
        self._smtp_then(self._trickle)

    def flood_after_login(self):
        """SMTP over TLS that passes the set-up test; on later connections it accepts the login, then
        answers MAIL FROM with FLOOD_LINES "250-" lines at once."""
        self._smtp_then(self._flood)

    def vanish_after_data(self):
        """SMTP over TLS that passes the set-up test; on later connections it takes the first message
        whole (in ``received``, as a server that stored it), then hangs up before answering it."""
        self._smtp_then(lambda sock: None, vanish_after_data=True)

    def _trickle(self, sock):
        for _second in range(TRICKLE_SECONDS * 2):
            if self.server.stopping.wait(0.5):
                return
            sock.sendall(b"250-x\r\n")

    @staticmethod
    def _flood(sock):
        sock.sendall(b"250-x\r\n" * FLOOD_LINES)

    def _smtp_then(self, answer_mail_from, vanish_after_data=False):
        hostile = next(self.server.sessions) > 0  # the first connection is the set-up test
        sock = self._tls()
        sock.sendall(b"220 localhost ESMTP\r\n")
        lines = sock.makefile("rb")
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                sock.sendall(b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"AUTH":
                sock.sendall(b"235 2.7.0 Authentication successful\r\n")
            elif verb == b"DATA":
                sock.sendall(b"354 go ahead\r\n")
                body = list(itertools.takewhile(lambda body: body.rstrip(b"\r\n") != b".", lines))
                if hostile and vanish_after_data:
                    self.server.received.append(b"".join(body).decode("utf-8", "replace"))
                    return
                sock.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                if verb == b"MAIL" and hostile:
                    answer_mail_from(sock)
                sock.sendall(b"250 2.0.0 OK\r\n")
