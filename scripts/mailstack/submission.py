"""SMTP submission on aiosmtpd: AUTH against the passwd-file or XOAUTH2 tokens, canned replies, LMTP delivery."""

import asyncio
import base64
import re
import smtplib
import time
import warnings

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

from . import grants, store
from .provider_texts import SMTP_AUTH_DISABLED, XOAUTH2_CHALLENGE, XOAUTH2_REFUSED

# The implicit-TLS listeners are encrypted from the first byte; aiosmtpd only knows STARTTLS as "TLS".
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
# An AUTH refusal: a 4xx or 5xx code, then "-" (more lines follow) or " ".
REPLY_CODE = re.compile(r"^([45]\d\d)[ -]?")


def format_reply(reply):
    """A canned reply as SMTP wire text: every line but the last marked as a continuation ("534-...").

    Lines may carry their own code or not; the first line's code is used for all (535 if it has none).
    """
    lines = reply.strip().splitlines()
    match = REPLY_CODE.match(lines[0])
    code = match.group(1) if match else "535"
    texts = [REPLY_CODE.sub("", line, count=1) for line in lines]
    return "\r\n".join(f"{code}{'-' if n < len(texts) - 1 else ' '}{text}" for n, text in enumerate(texts))


def initial_response(text):
    """The decoded initial response of AUTH; undecodable means empty (the token check then refuses it)."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def parse_xoauth2(blob):
    """(login, access token) from a decoded XOAUTH2 response 'user=...\x01auth=Bearer ...\x01\x01'."""
    fields = dict(part.partition("=")[::2] for part in blob.decode(errors="replace").split("\x01") if part)
    return fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ").strip()


def check_reply(reply):
    """Raise ValueError unless `reply` starts with a 4xx or 5xx SMTP code."""
    if not REPLY_CODE.match(reply.strip()):
        raise ValueError(f"an AUTH refusal starts with a 4xx or 5xx code, e.g. '535 5.7.8 ...': {reply!r}")


class Stats:
    """Counters of successful logins and accepted messages, mirrored to a JSON file after each change."""

    def __init__(self, path):
        self.path = path
        self.counts = {"logins": 0, "messages": 0}
        store.write_json(path, self.counts)

    def bump(self, name):
        self.counts[name] += 1
        store.write_json(self.path, self.counts)


class Submission:
    """aiosmtpd handler and authenticator shared by every SMTP listener of one stack."""

    def __init__(self, layout, grants_store, counters):
        self.layout = layout
        self.stats = Stats(layout.smtp_stats)
        self.grants = grants_store
        self.oauth_counters = counters

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        """aiosmtpd authenticator: a canned reply wins, then the passwd-file decides."""
        login = auth_data.login.decode(errors="replace")
        reply = store.lookup_reply(self.layout.smtp_replies, login)
        if reply:
            return AuthResult(success=False, handled=False, message=format_reply(reply))
        if store.read_users(self.layout.passwd).get(login.lower()) == auth_data.password.decode(errors="replace"):
            self.stats.bump("logins")
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server, args):
        """aiosmtpd handler hook for AUTH XOAUTH2 (initial response or after an empty 334)."""
        blob = initial_response(args[1]) if len(args) > 1 else await server.challenge_auth("")
        if blob is MISSING:
            return AuthResult(success=False, handled=True)
        login, token = parse_xoauth2(blob)
        owner = self.grants.access_login(token)
        if owner is None or owner != login.lower():
            return await self.refuse_xoauth2(server)
        if grants.user_flags(self.layout, owner)["smtp_auth_disabled"]:
            self.oauth_counters.bump("xoauth2_smtp_refused")
            return AuthResult(success=False, handled=False, message=SMTP_AUTH_DISABLED)
        self.stats.bump("logins")
        self.oauth_counters.bump("xoauth2_smtp_ok")
        return AuthResult(success=True, auth_data=LoginPassword(login.encode(), b""))

    async def refuse_xoauth2(self, server):
        """As Microsoft and Google: a 334 with the JSON error, the client's empty line, then 535."""
        self.oauth_counters.bump("xoauth2_smtp_refused")
        if await server.challenge_auth(XOAUTH2_CHALLENGE) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=XOAUTH2_REFUSED)

    async def handle_DATA(self, server, session, envelope):
        """Deliver to local users over LMTP; keep mail for anyone else as an .eml file in relay/."""
        users = store.read_users(self.layout.passwd)
        local = [rcpt for rcpt in envelope.rcpt_tos if rcpt.lower() in users]
        others = [rcpt for rcpt in envelope.rcpt_tos if rcpt.lower() not in users]
        try:
            if local:
                await asyncio.get_running_loop().run_in_executor(None, self.deliver, envelope, local)
        except (OSError, smtplib.SMTPException) as error:
            return f"451 4.3.0 Local delivery failed: {error}".replace("\n", " ")
        if others:
            self.relay(envelope, others)
        self.stats.bump("messages")
        return "250 2.0.0 Message accepted"

    def deliver(self, envelope, recipients):
        """One LMTP transaction per recipient, since smtplib reads a single reply after DATA."""
        with smtplib.LMTP(str(self.layout.lmtp_socket)) as lmtp:
            for rcpt in recipients:
                lmtp.sendmail(envelope.mail_from, [rcpt.lower()], envelope.original_content)

    def relay(self, envelope, recipients):
        """Write the message with its envelope as headers, for tests to read back."""
        self.layout.relay_dir.mkdir(exist_ok=True)
        head = f"X-Mailstack-Mail-From: {envelope.mail_from}\r\nX-Mailstack-Rcpt-To: {', '.join(recipients)}\r\n"
        path = self.layout.relay_dir / f"{time.time_ns()}.eml"
        path.write_bytes(head.encode() + envelope.original_content)

    def factory(self, loop, starttls_context=None):
        """A protocol factory: STARTTLS required before AUTH when given a context, else for implicit TLS."""
        options = dict(
            hostname="localhost",
            auth_required=True,
            authenticator=self.authenticate,
            loop=loop,
            auth_require_tls=starttls_context is not None,
        )
        if starttls_context:
            options.update(tls_context=starttls_context, require_starttls=True)
        return lambda: SMTP(self, **options)
