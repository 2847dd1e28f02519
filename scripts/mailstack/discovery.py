"""Local servers for the mail settings discovery: DNS (A, MX, SRV) and HTTPS autoconfig files.

Used by the tests (in-process, on free ports) and runnable for the demo:

    PYTHONPATH=scripts python -m mailstack.discovery --port 10053 \\
        --record "_imaps._tcp.example.test SRV 0 1 10993 localhost." ...
"""

import argparse
import http.server
import signal
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography import x509

from .ca import DAY, _write, make_ca, make_leaf

HOST = "127.0.0.1"


class _ThreadedServer:
    """Serves ``self._server`` in a thread between ``with`` and the end of the block."""

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


class DnsServer(_ThreadedServer):
    """Answers queries over UDP on 127.0.0.1 from fixed records; NXDOMAIN for names it does not know.

    ``records`` are (name, type, data) triples, e.g. ("example.test", "MX", "10 mx1.mail.ovh.net.").
    """

    def __init__(self, records, port=0):
        self.zone = {}
        for name, rdtype, data in records:
            key = (dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
            rrset = self.zone.setdefault(key, dns.rrset.RRset(key[0], dns.rdataclass.IN, key[1]))
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, key[1], data), ttl=60)
        self._server = socketserver.ThreadingUDPServer((HOST, port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]

    @property
    def address(self):
        """The 'IP:PORT' form of odoo.conf's mcl_mailbox_dns."""
        return f"{HOST}:{self.port}"

    def _handler(self):
        zone = self.zone

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                sock.sendto(answer(zone, dns.message.from_wire(data)).to_wire(), self.client_address)

        return Handler



def answer(zone, query):
    """The response to ``query`` from ``zone``: the records, no data, or NXDOMAIN."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    rrset = zone.get((question.name, question.rdtype))
    if rrset is not None:
        response.answer.append(rrset)
    elif not any(name == question.name for name, _type in zone):
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


class SilentDnsServer:
    """A UDP port that receives DNS queries and never answers."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((HOST, 0))
        self.port = self._sock.getsockname()[1]
        self.address = f"{HOST}:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._sock.close()


@dataclass
class Route:
    """What the HTTPS server sends for one host and path: a status, headers, a body, maybe slowly."""

    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    trickle: float = 0.0  # seconds between bytes of the body: a server that never finishes


class HttpsServer(_ThreadedServer):
    """HTTPS on 127.0.0.1 with one certificate for every test name; ``routes`` maps (host, path) to Route.

    ``requests`` records the (host, path with query) of each request received.
    """

    def __init__(self, routes, cert_file, key_file):
        self.routes = routes
        self.requests = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server = http.server.ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").rpartition(":")[0] or self.headers.get("Host", "")
                server.requests.append((host, self.path))
                route = server.routes.get((host, self.path.partition("?")[0]), Route(b"not found", 404))
                self.send_response(route.status)
                for name, value in {"Content-Type": "application/xml", **route.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self._send(route)

            def _send(self, route):
                if not route.trickle:
                    self.wfile.write(route.body)
                    return
                for byte in route.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.trickle)

            def log_message(self, *args):
                pass

        return Handler



def make_pki(directory, names):
    """A test CA and one server certificate for ``names``: (CA file, certificate file, key file)."""
    directory = Path(directory)
    ca_cert, ca_key = make_ca("mcl_mailbox discovery test CA")
    cert, key = make_leaf(ca_cert, ca_key, [x509.DNSName(name) for name in names], (-DAY, 30 * DAY))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    _write(ca_cert, ca_key, paths[0], directory / "ca.key")
    _write(cert, key, paths[1], paths[2])
    return paths


def main(argv=None):
    """Serve DNS records in the foreground until SIGINT or SIGTERM (for the demo)."""
    parser = argparse.ArgumentParser(prog="mailstack.discovery", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="UDP port on 127.0.0.1")
    parser.add_argument("--record", action="append", default=[], metavar='"NAME TYPE DATA"',
                        help='e.g. "_imaps._tcp.example.test SRV 0 1 10993 localhost."')
    args = parser.parse_args(argv)
    records = [tuple(text.split(None, 2)) for text in args.record]
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with DnsServer(records, args.port) as server:
        print(f"DNS on {server.address}: {len(records)} records", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
