"""File a copy of a sent message in the mailbox's Sent folder over IMAP, at most once.

Most providers do not keep what is sent through their SMTP server; the copy is
appended to the folder marked ``\\Sent`` (RFC 6154), else to a folder with a
usual name, unless a message with the same Message-ID is already there.
"""

import base64
import imaplib
import re
import time

from . import probe

# Usual names of the Sent folder when the server marks none with \Sent (compared case-insensitively).
SENT_NAMES = (
    "sent", "sent items", "sent messages", "sent mail", "[gmail]/sent mail", "inbox.sent", "inbox/sent",
    "envoyés", "éléments envoyés", "messages envoyés", "inbox.envoyés",
)
LIST_LINE = re.compile(r'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')
MODIFIED_BASE64 = re.compile(r"&([^-]*)-")


class NoSentFolderError(Exception):
    """The mailbox has no folder that looks like Sent."""


def decode_folder_name(name):
    """A folder name as IMAP gives it (quoted, modified UTF-7) in plain text."""
    if name.startswith('"') and name.endswith('"'):
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")

    def utf16(match):
        if not match.group(1):
            return "&"
        chunk = match.group(1).replace(",", "/")
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4)).decode("utf-16-be")

    return MODIFIED_BASE64.sub(utf16, name)


def sent_folder(list_lines):
    """The Sent folder among LIST answers, as IMAP names it: marked \\Sent first, else by name."""
    folders = []
    for line in list_lines:
        match = LIST_LINE.match(line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line))
        if match:
            folders.append((match.group("flags").lower().split(), match.group("name")))
    for flags, name in folders:
        if "\\sent" in flags:
            return name
    for flags, name in folders:
        if "\\noselect" not in flags and decode_folder_name(name).lower() in SENT_NAMES:
            return name
    raise NoSentFolderError("no folder is marked \\Sent or named like a Sent folder")


def file_copies(endpoint, ssl_context, timeout, messages):
    """Append each (message_id, raw_message) to the Sent folder unless already there, in one session.

    Return {message_id: "appended" | "present"}; the whole session is bounded by ``timeout``.
    """
    outcome = {}
    with probe.imap_connection(endpoint, ssl_context, timeout) as client:
        status, lines = client.list('""', "*")
        probe.expect_ok("list", (status, lines))
        folder = sent_folder(line for line in lines if line)
        probe.expect_ok("select", client.select(folder))
        for message_id, raw_message in messages:
            status, found = client.search(None, "HEADER", "Message-ID", _quoted(message_id))
            probe.expect_ok("search", (status, found))
            if found and found[0].split():
                outcome[message_id] = "present"
                continue
            internal_date = imaplib.Time2Internaldate(time.time())
            probe.expect_ok("append", client.append(folder, "(\\Seen)", internal_date, raw_message))
            outcome[message_id] = "appended"
    return outcome


def _quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
