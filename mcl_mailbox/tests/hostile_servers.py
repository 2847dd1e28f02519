"""Small misbehaving servers on 127.0.0.1, to point the set-up form at."""

import contextlib
import socketserver
import ssl

from . import common  # noqa: F401  (puts the repository's scripts/ on sys.path)

# isort: split
from mailstack.testserver import ThreadedTCPServer


class HostileServer(ThreadedTCPServer):
    """A server that misbehaves in one way, named by ``behaviour`` (a method of _Session).

    ``tls_context`` (a server context) wraps the connection first for "flood" and "no_auth".
    """

    def __init__(self, behaviour, tls_context=None):
        self.behaviour = behaviour
        self.tls_context = tls_context
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
