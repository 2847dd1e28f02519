"""An attacker's mail server on 127.0.0.1: valid certificate, says yes to everything, records every line.

A test points a mailbox at it and asserts that no password ever reaches it.
"""

import contextlib
import socketserver

from . import common  # noqa: F401  (puts the repository's scripts/ on sys.path)

# isort: split
from mailstack.testserver import ThreadedTCPServer


class RecordingServer(ThreadedTCPServer):
    """An IMAP or SMTP server (``protocol``) over implicit TLS that accepts any login."""

    def __init__(self, protocol, tls_context):
        self.protocol = protocol
        self.tls_context = tls_context
        self.received = []
        super().__init__(_RecordingSession)

    def heard(self, *needles):
        """Whether any of ``needles`` was received."""
        return any(needle in line for line in self.received for needle in needles)


class _RecordingSession(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        with contextlib.suppress(OSError, ValueError):
            sock = self.server.tls_context.wrap_socket(self.request, server_side=True)
            getattr(self, self.server.protocol)(sock)

    def _lines(self, sock):
        for raw in sock.makefile("rb"):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.server.received.append(line)
            yield line

    def imap(self, sock):
        sock.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
        for line in self._lines(sock):
            tag, _space, command = line.partition(" ")
            verb = command.split(" ", 1)[0].upper()
            if verb == "CAPABILITY":
                sock.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
            elif verb == "AUTHENTICATE":
                sock.sendall(b"+ \r\n")
                self.server.received.append(next(self._lines(sock), ""))
            sock.sendall(f"{tag} OK done\r\n".encode())
            if verb == "LOGOUT":
                return

    def smtp(self, sock):
        sock.sendall(b"220 localhost ESMTP\r\n")
        lines = self._lines(sock)
        for line in lines:
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                sock.sendall(b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == "AUTH":
                if line.upper().split()[1:2] == ["LOGIN"]:
                    for prompt in (b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n"):
                        sock.sendall(prompt)
                        next(lines, "")
                elif len(line.split()) == 2:
                    sock.sendall(b"334 \r\n")
                    next(lines, "")
                sock.sendall(b"235 2.7.0 Authentication successful\r\n")
            elif verb == "DATA":
                sock.sendall(b"354 go ahead\r\n")
                for body_line in lines:
                    if body_line == ".":
                        break
                sock.sendall(b"250 2.0.0 queued\r\n")
            elif verb == "QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"250 2.0.0 OK\r\n")
