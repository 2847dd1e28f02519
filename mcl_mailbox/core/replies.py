"""Find, over IMAP, the replies to the mail Odoo sent from a mailbox, and read them without a trace.

Standard library only. One session per mailbox: every folder is opened read-only (EXAMINE), so
the server cannot set ``\\Seen`` or any other flag, and messages are read with ``BODY.PEEK``;
nothing is moved, copied or deleted. The session reuses the probe's verified, bounded client
(:mod:`.probe`), and also caps the bytes a server may send: one literal (a message) at
``max_size`` plus a margin, the whole session at ``max_bytes`` and :data:`MAX_LINES` lines.

The caller decides which candidates are replies (``is_reply``) and what to do with each one
(``on_reply``): this module knows IMAP, not Odoo.
"""

import contextlib
import imaplib
import re
import time
from dataclasses import dataclass, field

from . import probe
from .sent_copy import LIST_LINE

# Odoo's Message-IDs look like <digits.time-openerp-res_id@host> (odoo.tools.mail.generate_tracking_message_id).
ODOO_MARKER = "openerp"
# Folders besides INBOX where providers file received mail (RFC 6154): Gmail's All Mail, Archive folders.
ARCHIVE_FLAGS = ("\\all", "\\archive")
HEADER_FIELDS = "MESSAGE-ID IN-REPLY-TO REFERENCES FROM"
HEADER_MAX = 64 * 1024  # bytes of the header fields of one candidate
LINE_SLACK = 64 * 1024  # what a response may carry besides the literal asked for
MAX_LINES = 200_000  # response lines in one session (a SEARCH answer is one line, a FETCH about three per message)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
UID_MAX = 2**32 - 1
_FETCH_ITEM = re.compile(rb"^\d+ \(.*\{\d+\}$", re.DOTALL)
_UID = re.compile(rb"\bUID (\d+)\b")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)\b")
_UIDVALIDITY = re.compile(rb"^(\d+)$")


class ReplyProtocolError(probe.ProbeError):
    """The server's answer does not follow IMAP, or goes over a size cap."""

    code = "protocol_error"


@dataclass
class Candidate:
    """A message whose threading headers name an Odoo Message-ID, as its header fields show it."""

    uid: int
    size: int
    headers: bytes = field(repr=False)


@dataclass
class FolderScan:
    """What one folder gave: its UIDVALIDITY, the last UID dealt with, and per-outcome counts."""

    name: str
    uidvalidity: int
    last_uid: int
    complete: bool = True  # False when a cap or the deadline left candidates for the next run


class _CappedIMAPClient(probe._IMAPClient):
    """The probe's IMAP client, refusing a literal over ``max_literal`` and a session over ``max_bytes``."""

    def __init__(self, dialer, max_literal, max_bytes):
        self._max_literal = max_literal
        self._max_bytes = max_bytes
        self._received = self._lines = 0
        super().__init__(dialer)

    def _count(self, size):
        self._received += size
        if self._received > self._max_bytes:
            raise ReplyProtocolError(f"the server sent more than {self._max_bytes} bytes in one session: cut")

    def read(self, size):
        if size > self._max_literal:
            raise ReplyProtocolError(f"the server announced {size} bytes where at most {self._max_literal} fit: cut")
        data = super().read(size)
        self._count(len(data))
        return data

    def readline(self):
        line = super().readline()
        self._count(len(line))
        self._lines += 1
        if self._lines > MAX_LINES:  # imaplib keeps every untagged line of a command in memory
            raise ReplyProtocolError(f"the server sent more than {MAX_LINES} lines in one session: cut")
        return line


@contextlib.contextmanager
def session(endpoint, ssl_context, timeout, deadline, max_size, max_bytes):
    """A logged-in, capped IMAP client: each read waits at most ``timeout``, the session ``deadline`` in all."""
    with probe.Watchdog(deadline) as watchdog:
        dialer = probe._Dialer(endpoint, ssl_context, timeout, watchdog)
        client = _CappedIMAPClient(dialer, max(max_size, HEADER_MAX) + LINE_SLACK, max_bytes)
        try:
            probe._imap_open(client, endpoint, ssl_context)
            yield client
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
        finally:
            client.file.close()
            client.sock.close()


def reply_folders(client):
    """INBOX, then the folders marked \\All or \\Archive (SPECIAL-USE), as IMAP names them."""
    status, lines = client.list('""', "*")
    probe.expect_ok("list", (status, lines))
    folders = ["INBOX"]
    for line in lines:
        if not isinstance(line, bytes):
            continue
        match = LIST_LINE.match(line.decode("utf-8", "replace"))
        if not match:
            continue
        flags = match.group("flags").lower().split()
        if "\\noselect" not in flags and any(flag in flags for flag in ARCHIVE_FLAGS):
            if match.group("name") not in folders:
                folders.append(match.group("name"))
    return folders


def examine(client, folder):
    """Open ``folder`` read-only and return its UIDVALIDITY."""
    probe.expect_ok("examine", client.select(folder, readonly=True))
    _status, data = client.response("UIDVALIDITY")
    value = data[-1] if data else None
    match = _UIDVALIDITY.match(value.strip()) if isinstance(value, bytes) else None
    if not match or not 0 < int(match.group(1)) <= UID_MAX:
        raise ReplyProtocolError(f"no valid UIDVALIDITY for the folder {folder}")
    return int(match.group(1))


def imap_date(day):
    """A date as IMAP SEARCH wants it (02-Dec-2026), whatever the locale."""
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def search_candidates(client, since, after_uid):
    """UIDs above ``after_uid`` of the messages since ``since`` whose In-Reply-To or References name Odoo."""
    if after_uid >= UID_MAX:
        return []
    marker = f'"{ODOO_MARKER}"'
    status, data = client.uid(
        "SEARCH", f"UID {after_uid + 1}:*", "SINCE", imap_date(since),
        "OR", "HEADER", "IN-REPLY-TO", marker, "HEADER", "REFERENCES", marker,
    )
    probe.expect_ok("search", (status, data))
    uids = set()
    for chunk in data:
        if not isinstance(chunk, bytes):
            raise ReplyProtocolError("the SEARCH answer is not a list of UIDs")
        for token in chunk.split():
            if not token.isdigit() or not 0 < int(token) <= UID_MAX:
                raise ReplyProtocolError("the SEARCH answer is not a list of UIDs")
            uids.add(int(token))
    return sorted(uid for uid in uids if uid > after_uid)  # "n:*" always holds the highest UID


def _fetch_items(data):
    """(metadata, literal) of each FETCH answer: the text around the literal joined, flag updates left out."""
    for index, item in enumerate(data):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes) and isinstance(item[1], bytes):
            after = data[index + 1] if index + 1 < len(data) and isinstance(data[index + 1], bytes) else b""
            if not _FETCH_ITEM.match(item[0]):
                raise ReplyProtocolError("a FETCH answer is not what was asked for")
            yield item[0] + b" " + after, item[1]


def fetch_candidates(client, uids):
    """The size and threading header fields of each UID in ``uids``, read with BODY.PEEK."""
    if not uids:
        return []
    status, data = client.uid(
        "FETCH", ",".join(str(uid) for uid in uids), f"(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])",
    )
    probe.expect_ok("fetch", (status, data))
    found = {}
    for meta, literal in _fetch_items(data):
        uid, size = _UID.search(meta), _SIZE.search(meta)
        if not uid or not size:
            raise ReplyProtocolError("a FETCH answer is not what was asked for")
        if int(uid.group(1)) in uids:
            # Anyone may write a message with huge threading headers: it is no reply of Odoo's, and it must
            # not stop the search at every run (the caller ignores a candidate without headers).
            headers = literal if len(literal) <= HEADER_MAX else b""
            found[int(uid.group(1))] = Candidate(int(uid.group(1)), int(size.group(1)), headers)
    return [found[uid] for uid in sorted(found)]


def fetch_message(client, uid, max_size):
    """The whole message ``uid`` (BODY.PEEK[]: it stays unread); at most ``max_size`` bytes."""
    status, data = client.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
    probe.expect_ok("fetch", (status, data))
    for meta, literal in _fetch_items(data):
        found = _UID.search(meta)
        if found and int(found.group(1)) == uid:
            if len(literal) > max_size:
                raise ReplyProtocolError(f"the message is larger than {max_size} bytes")
            return literal
    raise ReplyProtocolError(f"the server did not return the message with UID {uid}")


@dataclass
class Budget:
    """How many messages may still be downloaded in this run, and until when the session may work."""

    messages: int
    until: float  # time.monotonic() after which no new download starts
    max_size: int
    candidates: int = 500  # header fields read per folder and run

    def allows(self):
        return self.messages > 0 and time.monotonic() < self.until


def scan_folder(client, folder, state, since, budget, is_reply, on_reply):
    """Deal with the new candidates of ``folder``; return its FolderScan.

    ``state`` is (uidvalidity, last_uid) remembered from the last run, or None. A changed
    UIDVALIDITY starts again from the ``since`` date (Odoo ignores a Message-ID it has already).
    ``is_reply(candidate)`` says "reply", "ignore" or "too_large"; ``on_reply(candidate, raw)``
    posts a reply. A candidate is "dealt with" once posted or ignored; the scan stops before one
    the budget does not cover, so that the next run starts there.
    """
    uidvalidity = examine(client, folder)
    last_uid = state[1] if state and state[0] == uidvalidity else 0
    scan = FolderScan(folder, uidvalidity, last_uid)
    uids = search_candidates(client, since, last_uid)
    if len(uids) > budget.candidates:
        uids, scan.complete = uids[:budget.candidates], False
    for candidate in fetch_candidates(client, uids):
        verdict = is_reply(candidate)
        if verdict == "reply":
            if not budget.allows():
                scan.complete = False
                break
            budget.messages -= 1
            on_reply(candidate, fetch_message(client, candidate.uid, budget.max_size))
        scan.last_uid = candidate.uid
    return scan
