"""A minimal IMAP4rev1 server whose LOGIN answers with provider replies we cannot produce for real."""

import re
import ssl

from . import store

DEFAULT_REPLY = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
CAPABILITY = "IMAP4rev1"
# An IMAP string argument: quoted (with \\ and \" escapes) or an atom.
ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def parse_arguments(text):
    """IMAP arguments as Python strings, or None when a literal ({n}) is used."""
    if re.search(r"\{\d+\+?\}$", text):
        return None
    return [atom or re.sub(r"\\(.)", r"\1", quoted) for quoted, atom in ARGUMENT.findall(text)]


def answer(replies_path, tag, command, arguments):
    """(response lines, close connection afterwards) for one command line."""
    if command == "CAPABILITY":
        return [f"* CAPABILITY {CAPABILITY}", f"{tag} OK CAPABILITY completed"], False
    if command == "NOOP":
        return [f"{tag} OK NOOP completed"], False
    if command == "LOGOUT":
        return ["* BYE Logging out", f"{tag} OK LOGOUT completed"], True
    if command == "LOGIN":
        args = parse_arguments(arguments)
        if not args or len(args) != 2:
            return [f"{tag} BAD LOGIN expects a user name and a password as atoms or quoted strings"], False
        lines = (store.lookup_reply(replies_path, args[0]) or DEFAULT_REPLY).strip().splitlines()
        return [*lines[:-1], f"{tag} {lines[-1]}"], False
    return [f"{tag} BAD {command or 'empty command'} is not supported by the replay server"], False


async def serve_client(replies_path, reader, writer):
    """Talk IMAP with one client until it logs out or goes away."""
    try:
        writer.write(f"* OK [CAPABILITY {CAPABILITY}] mailstack IMAP replay ready\r\n".encode())
        closing = False
        while not closing and (line := await reader.readline()):
            tag, _, rest = line.decode(errors="replace").rstrip("\r\n").partition(" ")
            command, _, arguments = rest.partition(" ")
            lines, closing = answer(replies_path, tag, command.upper(), arguments)
            writer.write("".join(f"{reply}\r\n" for reply in lines).encode())
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        return
    finally:
        writer.close()
