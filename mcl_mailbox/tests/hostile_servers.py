"""Small misbehaving servers on 127.0.0.1, to point the set-up form at."""

import contextlib
import socketserver
import ssl
import threading


class HostileServer(socketserver.ThreadingTCPServer):
    """A server that misbehaves in one way, named by ``behaviour`` (a method of _Session).

    ``tls_context`` (a server context) wraps the connection first for "flood" and "no_auth".
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour, tls_context=None):
        self.behaviour = behaviour
        self.tls_context = tls_context
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _Session)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()


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
