"""The detached process: SMTP listeners and IMAP replay server on one event loop, the identity server in a thread."""

import asyncio
import functools
import logging
import signal
import ssl

from . import identity, imap_replay
from .ca import cert_pair
from .grants import Counters, Grants
from .layout import HOST
from .submission import Submission

# SMTP implicit-TLS listener -> certificate it serves.
SMTPS_CERTS = {
    "smtps": "server",
    "smtps_untrusted": "untrusted",
    "smtps_expired": "expired",
    "smtps_wronghost": "wronghost",
}


def server_context(layout, name):
    """A TLS server context serving one of the generated certificates."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(*cert_pair(layout, name))
    return context


async def open_servers(layout, grants, counters):
    """Bind every asyncio listener; an OSError (port taken) propagates before anything is served."""
    loop = asyncio.get_running_loop()
    submission = Submission(layout, grants, counters)
    ports = layout.ports
    servers = [
        await loop.create_server(submission.factory(loop), HOST, ports[name], ssl=server_context(layout, cert))
        for name, cert in SMTPS_CERTS.items()
    ]
    starttls = submission.factory(loop, starttls_context=server_context(layout, "server"))
    servers.append(await loop.create_server(starttls, HOST, ports["submission"]))
    replay = functools.partial(imap_replay.serve_client, layout.imap_replies)
    servers.append(await asyncio.start_server(replay, HOST, ports["imap_replay"], ssl=server_context(layout, "server")))
    return servers


async def serve(layout):
    """Serve until SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    grants, counters = Grants(layout), Counters(layout.oauth_stats)
    servers = await open_servers(layout, grants, counters)
    identity.start(layout, server_context(layout, "server"), grants, counters)  # a daemon thread: ends with us
    logging.info("mailstack servers listening on %s", layout.ports)
    await stopping.wait()
    for server in servers:
        server.close()


def quiet_implicit_tls(record):
    """Log filter: the implicit-TLS listeners are encrypted, aiosmtpd's warning about them is noise."""
    return "auth_require_tls == False" not in record.getMessage()


def run(layout):
    """Entry point of the detached process; a port taken meanwhile ends it with a one-line log."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("mail.log").addFilter(quiet_implicit_tls)
    try:
        asyncio.run(serve(layout))
    except OSError as error:
        logging.error("cannot listen: %s", error)
        raise SystemExit(1) from None
