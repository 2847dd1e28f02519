"""Connection probe of a mailbox: can we log in over IMAP and hand a message to SMTP?

Standard library only. Every failure is turned by :func:`diagnose` into a
:class:`Diagnosis` whose ``code`` (one of :data:`CODES`) says what went wrong and
whose ``reply`` carries the server's own words, never the password.

Time bounds: ``timeout`` bounds the TCP connect and every socket read or write;
a watchdog shuts the check's sockets down ``DEADLINE_SLACK`` seconds later, since
a server trickling one byte at a time never trips a socket timeout.  SMTP replies
are capped (:data:`REPLY_MAX_LINES`, :data:`REPLY_MAX_BYTES`), and a port whose
first words are not a mail server's greeting is not quoted.

The same client, :class:`SMTPClient`, carries the real sending sessions, each
phase under its own :class:`Watchdog`.
"""

import base64
import concurrent.futures
import contextlib
import imaplib
import ipaddress
import re
import smtplib
import socket
import ssl
import threading
import unicodedata
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 10.0
DEADLINE_SLACK = 0.5  # the watchdog fires this long after `timeout`
JOIN_GRACE = 0.5  # check_both waits this long after the watchdogs
GREETING_GRACE = 1.5  # longest wait for a plaintext greeting before trying TLS on the port
ODOO_TEST_RECIPIENT = "noreply@odoo.com"
REPLY_LIMIT = 500
REPLY_MAX_LINES = 100  # lines of one SMTP reply (smtplib alone accepts any number of "250-" lines)
REPLY_MAX_BYTES = 64 * 1024  # bytes of one SMTP reply
SECURITIES = ("ssl", "starttls", "none")
MECHANISMS = ("password", "xoauth2")

CODES = (
    "dns",
    "refused",
    "timeout",
    "tls_on_plain_port",
    "plain_on_tls_port",
    "starttls_unsupported",
    "untrusted_certificate",
    "expired_certificate",
    "hostname_mismatch",
    "tls_handshake_failed",
    "auth_failed",
    "app_password_required",
    "imap_disabled",
    "web_login_required",
    "basic_auth_disabled",
    "smtp_auth_disabled_tenant",
    "too_many_attempts",
    "no_auth",
    "sender_refused",
    "recipient_refused",
    "server_closed",
    "protocol_error",
    "unknown",
)

# OpenSSL reasons seen when the first bytes from the server are plaintext, not a TLS record.
_PLAINTEXT_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"}
)
_EXPIRED_VERIFY_CODES = frozenset({9, 10})  # certificate not yet valid, has expired
_MISMATCH_VERIFY_CODES = frozenset({62, 64})  # hostname mismatch, IP address mismatch
_PLAINTEXT_GREETINGS = (b"220", b"* ", b"+OK")

# SMTP mechanisms usable with a password, in smtplib's order of preference.
_SMTP_PASSWORD_MECHANISMS = {"CRAM-MD5": "auth_cram_md5", "PLAIN": "auth_plain", "LOGIN": "auth_login"}

# Provider strings, most specific first: they win over the step that failed.
_PROVIDER_RULES = (
    ("app_password_required", r"application-specific password required|invalidsecondfactor"),
    ("imap_disabled", r"not enabled for imap|imap access is disabled"),
    ("web_login_required", r"webalert|web login required|log in via your web browser"),
    ("smtp_auth_disabled_tenant", r"smtpclientauthentication is disabled"),
    ("basic_auth_disabled", r"basic authentication is (?:disabled|not supported)"),
    ("too_many_attempts", r"#auth005|too many (?!arguments)"),
)
_PROTOCOL_RULE = "|".join(
    (
        r"line too long",
        r"got more than \d+ bytes",
        r"unexpected (?:tagged )?response",
        r"unterminated line",
        r"not imap4 compliant",
        r"no capability response",
    )
)
_CLOSED_RULE = r"socket error: eof"
_AUTH_RULE = "|".join(
    (
        r"authenticationfailed",
        r"invalid credentials",
        r"login failed",
        r"authentication (?:failed|unsuccessful)",
        r"not accepted",
    )
)
_STEP_CODES = {"auth": "auth_failed", "login": "auth_failed", "mail": "sender_refused", "rcpt": "recipient_refused"}
_TRANSPORT_CODES = (  # first match wins
    (socket.gaierror, "dns"),
    (ConnectionRefusedError, "refused"),
    ((smtplib.SMTPServerDisconnected, ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError), "server_closed"),
    (ssl.SSLError, "protocol_error"),
)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to log in to one side (IMAP or SMTP) of a mailbox.

    ``address``, when given, is the IP address to connect to (see :func:`public_address`); the
    certificate is still checked for ``host``. With ``mechanism`` 'xoauth2', ``password`` is an
    OAuth access token.
    """

    host: str
    port: int
    security: str  # 'ssl' (implicit TLS), 'starttls' or 'none'
    login: str
    password: str = field(repr=False)
    address: str | None = None
    mechanism: str = "password"  # or 'xoauth2'

    def __post_init__(self):
        if self.security not in SECURITIES:
            raise ValueError(f"security must be one of {SECURITIES}, not {self.security!r}")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"mechanism must be one of {MECHANISMS}, not {self.mechanism!r}")


@dataclass(frozen=True)
class Diagnosis:
    """Why one side failed: a code from CODES and the sanitized server reply or error text."""

    side: str  # 'imap' or 'smtp'
    code: str
    reply: str


class ProbeError(OSError):
    """A connection failure the probe recognised itself; ``code`` is its diagnosis code."""

    code = "unknown"


class DeadlineExceeded(ProbeError, TimeoutError):
    """The check did not finish before its overall deadline."""

    code = "timeout"


class NoAuthError(ProbeError):
    """The SMTP server offers no password authentication."""

    code = "no_auth"


class StartTlsUnsupportedError(ProbeError):
    """STARTTLS was chosen but the server does not offer it."""

    code = "starttls_unsupported"


class TlsOnPlainPortError(ProbeError):
    """Implicit TLS was chosen but the port speaks plaintext first."""

    code = "tls_on_plain_port"


class PlainOnTlsPortError(ProbeError):
    """STARTTLS or no security was chosen but the port expects a TLS handshake first."""

    code = "plain_on_tls_port"


class TlsHandshakeError(ProbeError):
    """The TLS handshake failed for a reason other than the certificate."""

    code = "tls_handshake_failed"


class NotMailServerError(ProbeError):
    """The port does not greet as a mail server: what it says is not quoted (it may be any service)."""

    code = "protocol_error"


class PrivateAddressError(ValueError):
    """The host is an IP address, or resolves to a loopback, private or otherwise non-public one."""


class ReplyTooLongError(ProbeError, smtplib.SMTPServerDisconnected):
    """An SMTP reply went over REPLY_MAX_LINES lines or REPLY_MAX_BYTES bytes: it was cut and the
    connection closed."""

    code = "protocol_error"


class SmtpReplyError(smtplib.SMTPResponseException):
    """An SMTP reply outside the expected codes; ``step`` names the command that got it."""

    def __init__(self, step, code, message):
        super().__init__(code, message)
        self.step = step


class ImapRefusedError(imaplib.IMAP4.error):
    """An IMAP command answered NO or BAD; ``step`` names the command."""

    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


def make_ssl_context(cafile=None):
    """Return a verifying client context: system store, plus ``cafile`` when given."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile)
    return context


def is_public_address(address):
    """Whether ``address`` (an ipaddress object) is public: not loopback, private, link-local,
    shared, reserved or multicast.  An IPv4-mapped IPv6 address is judged as its IPv4 address."""
    address = getattr(address, "ipv4_mapped", None) or address
    return address.is_global and not address.is_multicast


def public_address(host):
    """The IP address to connect to for the server name ``host``, resolved once (IPv4 preferred).

    Raises PrivateAddressError when ``host`` is an IP address or resolves to any non-public
    address, and socket.gaierror when it does not resolve.
    """
    if _is_ip_literal(host):
        raise PrivateAddressError(f"{host} is an IP address, not a server name")
    addresses = [ipaddress.ip_address(info[4][0].partition("%")[0])
                 for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]
    private = next((address for address in addresses if not is_public_address(address)), None)
    if private:
        raise PrivateAddressError(f"{host} resolves to the non-public address {private}")
    return str(min(addresses, key=lambda address: address.version))  # IPv4 first: not every network routes IPv6


def _is_ip_literal(host):
    """Whether ``host`` is an IP address in any form the system accepts (127.1 and 0x7f.1 included)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            socket.inet_aton(host)
        except OSError:
            return False
    return True


def check_imap(endpoint, ssl_context, timeout=DEFAULT_TIMEOUT):
    """Log in over IMAP, list the top folders and examine INBOX read-only; raise on failure."""
    with imap_connection(endpoint, ssl_context, timeout) as client:
        expect_ok("list", client.list('""', "%"))
        expect_ok("examine", client.select("INBOX", readonly=True))


@contextlib.contextmanager
def imap_connection(endpoint, ssl_context, timeout=DEFAULT_TIMEOUT):
    """A logged-in IMAP client, every step bounded by the same deadline as the checks."""
    with Watchdog(timeout + DEADLINE_SLACK) as watchdog:
        client = _IMAPClient(_Dialer(endpoint, ssl_context, timeout, watchdog))
        try:
            _imap_open(client, endpoint, ssl_context)
            yield client
            # The work is done: a sloppy goodbye is not a failure.
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
        finally:
            client.file.close()
            client.sock.close()


def check_smtp(endpoint, ssl_context, timeout=DEFAULT_TIMEOUT, mail_from=None, rcpt_to=ODOO_TEST_RECIPIENT):
    """Log in over SMTP and go as far as DATA (expecting 354), as Odoo's test does; raise on failure.

    No message is sent: after the 354 the connection is dropped, since any further
    line (RSET or QUIT included) would be taken as message content.
    """
    with Watchdog(timeout + DEADLINE_SLACK) as watchdog:
        client = smtp_client(endpoint, ssl_context, timeout, watchdog)
        try:
            _smtp_session(client, endpoint, ssl_context, mail_from or endpoint.login, rcpt_to)
        finally:
            client.close()


def check_both(imap_endpoint, smtp_endpoint, ssl_context, timeout=DEFAULT_TIMEOUT, mail_from=None):
    """Run both checks at once; return {'imap': Diagnosis | None, 'smtp': Diagnosis | None}.

    Returns within about ``timeout + 1`` seconds: a check still running then (for
    example stuck in a DNS lookup, which no socket timeout bounds) counts as a timeout.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="mcl-probe")
    try:
        futures = {
            "imap": pool.submit(check_imap, imap_endpoint, ssl_context, timeout),
            "smtp": pool.submit(check_smtp, smtp_endpoint, ssl_context, timeout, mail_from),
        }
        concurrent.futures.wait(futures.values(), timeout=timeout + DEADLINE_SLACK + JOIN_GRACE)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    passwords = {"imap": imap_endpoint.password, "smtp": smtp_endpoint.password}
    return {side: _outcome(side, future, passwords[side], timeout) for side, future in futures.items()}


def diagnose(side, exc, password=""):
    """Classify ``exc`` raised by the ``side`` check into a Diagnosis, the password scrubbed out."""
    reply = _sanitize(_reply_text(exc), password)
    return Diagnosis(side=side, code=_classify(exc, reply), reply=reply)


# --- Deadline -----------------------------------------------------------------------------------


class Watchdog:
    """Shuts a check's or a sending session's sockets down from a timer thread once its deadline has passed.

    Each socket is watched through a duplicate of its descriptor: shutting that down wakes any
    read or write blocked on the connection, and it stays valid when a library wraps the socket
    in TLS (a TLS socket can be watched as well).
    """

    def __init__(self, seconds):
        self._seconds = seconds
        self._lock = threading.Lock()
        self._handles = []
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._timer.cancel()
        with self._lock:
            for handle in self._handles:
                handle.close()
            self._handles.clear()
            expired = self._expired
        if exc is not None and expired:
            raise DeadlineExceeded(f"no complete answer within {self._seconds:g} s") from exc

    def guard(self, sock):
        """Watch ``sock`` (closing it at once if the deadline has already passed) and return it."""
        with self._lock:
            if self._expired:
                sock.close()
                raise DeadlineExceeded(f"no complete answer within {self._seconds:g} s")
            self._handles.append(socket.fromfd(sock.fileno(), sock.family, sock.type))
        return sock

    def _expire(self):
        with self._lock:
            self._expired = True
            for handle in self._handles:
                with contextlib.suppress(OSError):
                    handle.shutdown(socket.SHUT_RDWR)


# --- Connecting ---------------------------------------------------------------------------------


@dataclass
class _Dialer:
    """Opens a check's connection: TCP, then implicit TLS or a check that plaintext is spoken."""

    endpoint: Endpoint
    ssl_context: ssl.SSLContext
    timeout: float
    watchdog: Watchdog

    @property
    def grace(self):
        return min(GREETING_GRACE, self.timeout / 2)

    def open(self):
        sock = self._connect(self.timeout)
        try:
            if self.endpoint.security == "ssl":
                return self._implicit_tls(sock)
            self._await_greeting(sock)
        except BaseException:
            sock.close()
            raise
        return sock

    def _connect(self, timeout):
        address = (self.endpoint.address or self.endpoint.host, self.endpoint.port)
        return self.watchdog.guard(socket.create_connection(address, timeout))

    def _implicit_tls(self, sock):
        try:
            with _tls_handshake():
                return self.ssl_context.wrap_socket(sock, server_hostname=self.endpoint.host)
        except TlsHandshakeError as exc:
            # A server closing on our ClientHello may be a plaintext one that wants to speak first.
            closed = isinstance(exc.__cause__, (ssl.SSLEOFError, ConnectionResetError))
            if closed and self._greets_in_plaintext():
                raise TlsOnPlainPortError(f"the port greets in plaintext ({exc})") from exc
            raise

    def _await_greeting(self, sock):
        """Raise PlainOnTlsPortError if no greeting comes but the port completes a TLS handshake."""
        sock.settimeout(self.grace)
        try:
            greeted = bool(sock.recv(1, socket.MSG_PEEK))
        except TimeoutError:
            greeted = False
        finally:
            sock.settimeout(self.timeout)
        if not greeted and self._speaks_tls():
            raise PlainOnTlsPortError("no plaintext greeting, but the port answers a TLS handshake")

    def _speaks_tls(self):
        try:
            with self._connect(self.grace) as raw:
                self.ssl_context.wrap_socket(raw, server_hostname=self.endpoint.host).close()
        except ssl.SSLCertVerificationError:
            return True
        except OSError:
            return False
        return True

    def _greets_in_plaintext(self):
        try:
            with self._connect(self.grace) as raw:
                return raw.recv(16).startswith(_PLAINTEXT_GREETINGS)
        except OSError:
            return False


@contextlib.contextmanager
def _tls_handshake():
    """Turn TLS handshake failures other than certificate ones into probe errors."""
    try:
        yield
    except ssl.SSLCertVerificationError:
        raise
    except ssl.SSLError as exc:
        if exc.reason in _PLAINTEXT_REASONS:
            raise TlsOnPlainPortError(str(exc)) from exc
        raise TlsHandshakeError(str(exc)) from exc
    except ConnectionResetError as exc:
        raise TlsHandshakeError(str(exc)) from exc


# --- IMAP ---------------------------------------------------------------------------------------


class _IMAPClient(imaplib.IMAP4):
    """imaplib client on a dialer's socket (implicit TLS included), debug output pinned off."""

    def __init__(self, dialer):
        self._dialer = dialer
        super().__init__(dialer.endpoint.host, dialer.endpoint.port, dialer.timeout)
        self.debug = 0  # imaplib.Debug >= 4 would print the LOGIN line, password included

    def _create_socket(self, timeout):
        return self._dialer.open()

    def _connect(self):
        """Read the greeting; what a port that does not greet as IMAP says is not quoted."""
        try:
            return super()._connect()
        except imaplib.IMAP4.error as exc:
            if getattr(self, "welcome", None) is None and not re.search(_CLOSED_RULE, str(exc), re.IGNORECASE):
                raise NotMailServerError("the port does not greet as an IMAP server") from None
            raise


def _imap_open(client, endpoint, ssl_context):
    if endpoint.security == "starttls":
        if "STARTTLS" not in client.capabilities:
            raise StartTlsUnsupportedError("the IMAP server does not offer STARTTLS")
        with _tls_handshake():
            client.starttls(ssl_context)
    _imap_login(client, endpoint)


def _imap_login(client, endpoint):
    """LOGIN with both arguments quoted (imaplib quotes only the password), or AUTHENTICATE XOAUTH2."""
    try:
        if endpoint.mechanism == "xoauth2":
            client.authenticate("XOAUTH2", _xoauth2_responses(endpoint))
        else:
            client.login(_imap_quoted(endpoint.login), endpoint.password)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        raise ImapRefusedError("login", _sanitize(_text(exc.args[0]), endpoint.password)) from None


def _imap_quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expect_ok(step, response):
    status, data = response
    if status != "OK":
        raise ImapRefusedError(step, f"{status} {_text(data)}")


def _text(data):
    if isinstance(data, list):
        return " ".join(_text(item) for item in data if isinstance(item, (bytes, str)))
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


# --- SMTP ---------------------------------------------------------------------------------------


def smtp_client(endpoint, ssl_context, timeout, watchdog):
    """An SMTPClient connected to ``endpoint`` and greeted, its socket watched by ``watchdog``."""
    return SMTPClient(_Dialer(endpoint, ssl_context, timeout, watchdog))


class SMTPClient(smtplib.SMTP):
    """smtplib client on a dialer's socket (implicit TLS included); connects at once.

    Each reply is cut after REPLY_MAX_LINES lines or REPLY_MAX_BYTES bytes, and a greeting other
    than 220 is not quoted.  :meth:`deadline` bounds a phase of a session, :meth:`quit` never hangs.
    """

    def __init__(self, dialer):
        self._dialer = dialer
        self.handed_over = False
        super().__init__(dialer.endpoint.host, dialer.endpoint.port, timeout=dialer.timeout)

    def mail(self, sender, options=()):
        self.handed_over = False  # a new message
        return super().mail(sender, options)

    def send(self, s):
        """Send ``s``; ``handed_over`` then says whether the current message's content went out whole
        (the server may have kept it even if its reply never comes)."""
        result = super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed_over = True
        return result

    def _get_socket(self, host, port, timeout):
        return self._dialer.open()

    def connect(self, host="localhost", port=0, source_address=None):
        try:
            code, message = super().connect(host, port, source_address)
        except smtplib.SMTPResponseException:  # a greeting line too long
            code, message = -1, b""
        if code != 220:
            self.close()
            raise NotMailServerError("the port does not greet as an SMTP server")
        return code, message

    def getreply(self):
        if self.file is None:
            self.file = _CappedReply(self.sock.makefile("rb"))
        self.file.restart()
        try:
            return super().getreply()
        except _ReplyCapReached:
            self.close()
            raise ReplyTooLongError(
                f"the server's reply went over {REPLY_MAX_LINES} lines or {REPLY_MAX_BYTES} bytes: cut"
            ) from None

    @contextlib.contextmanager
    def deadline(self, seconds):
        """Cut the connection if the block has not finished within ``seconds`` (DeadlineExceeded)."""
        with Watchdog(seconds) as watchdog:
            if self.sock:
                watchdog.guard(self.sock)
            yield

    def quit(self):
        """Say goodbye within the timeout, then close; a server that does not answer is left as it is."""
        reply = None
        with contextlib.suppress(smtplib.SMTPException, OSError), self.deadline(self.timeout + DEADLINE_SLACK):
            reply = super().quit()
        self.close()
        return reply


class _ReplyCapReached(Exception):
    """Raised inside smtplib's getreply (not an OSError, which smtplib would turn into a disconnection)."""


class _CappedReply:
    """The file smtplib reads replies from, refusing a reply over REPLY_MAX_LINES lines or REPLY_MAX_BYTES bytes."""

    def __init__(self, file):
        self._file = file
        self._lines = self._bytes = 0

    def restart(self):
        self._lines = self._bytes = 0

    def readline(self, limit=-1):
        line = self._file.readline(limit)
        self._lines += 1
        self._bytes += len(line)
        if self._lines > REPLY_MAX_LINES or self._bytes > REPLY_MAX_BYTES:
            raise _ReplyCapReached()
        return line

    def close(self):
        self._file.close()


def _smtp_session(client, endpoint, ssl_context, mail_from, rcpt_to):
    _expect_code("ehlo", client.ehlo(), 250)
    if endpoint.security == "starttls":
        if not client.has_extn("starttls"):
            raise StartTlsUnsupportedError("the SMTP server does not offer STARTTLS")
        with _tls_handshake():
            _expect_code("starttls", client.starttls(context=ssl_context), 220)
        _expect_code("ehlo", client.ehlo(), 250)
    _smtp_login(client, endpoint)
    _expect_code("mail", client.mail(mail_from), 250)
    _expect_code("rcpt", client.rcpt(rcpt_to), 250, 251)
    client.putcmd("data")
    _expect_code("data", client.getreply(), 354)


def _xoauth2_responses(endpoint):
    """The XOAUTH2 client side: the bearer token first, then an empty line after the server's error
    challenge (RFC 7628 3.2.3), which makes the server send its refusal."""
    sasl = f"user={endpoint.login}\x01auth=Bearer {endpoint.password}\x01\x01"
    answers = iter((sasl, ""))
    return lambda _challenge=None: next(answers, "")


def smtp_xoauth2_login(client, endpoint):
    """AUTH XOAUTH2 with ``endpoint``'s access token (smtplib keeps nothing of it)."""
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()
    if "XOAUTH2" not in offered:
        raise NoAuthError(f"the SMTP server does not offer XOAUTH2 (AUTH: {' '.join(offered) or 'none'})")
    client.auth("XOAUTH2", _xoauth2_responses(endpoint))


def _smtp_login(client, endpoint):
    """Authenticate with one password mechanism only: smtplib.login() would retry with each."""
    if endpoint.mechanism == "xoauth2":
        smtp_xoauth2_login(client, endpoint)
        return
    offered = client.esmtp_features.get("auth", "").upper().split()
    mechanism = next((name for name in _SMTP_PASSWORD_MECHANISMS if name in offered), None)
    if mechanism is None:
        raise NoAuthError(f"the SMTP server offers no password authentication (AUTH: {' '.join(offered) or 'none'})")
    client.user, client.password = endpoint.login, endpoint.password
    try:
        client.auth(mechanism, getattr(client, _SMTP_PASSWORD_MECHANISMS[mechanism]))
    finally:
        client.password = None  # smtplib would keep it on the connection


def _expect_code(step, reply, *expected):
    code, message = reply
    if code not in expected:
        raise SmtpReplyError(step, code, message)


# --- Diagnosis ----------------------------------------------------------------------------------


def _outcome(side, future, password, timeout):
    if not future.done():
        return Diagnosis(side=side, code="timeout", reply=f"no complete answer within {timeout:g} s")
    exc = future.exception()
    return None if exc is None else diagnose(side, exc, password)


def _reply_text(exc):
    if isinstance(exc, NotMailServerError):
        return ""  # whatever the port said is not a mail server's reply: never quoted
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, imaplib.IMAP4.error) and exc.args:
        return _text(exc.args[0])
    return str(exc) or type(exc).__name__


def _classify(exc, reply):
    if isinstance(exc, ProbeError):
        return exc.code
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return "timeout"  # smtplib and imaplib re-raise socket timeouts as disconnections
    if isinstance(exc, (smtplib.SMTPResponseException, imaplib.IMAP4.error)):
        return _classify_reply(exc, reply)
    return _classify_transport(exc)


def _classify_reply(exc, reply):
    for code, pattern in _PROVIDER_RULES:
        if re.search(pattern, reply, re.IGNORECASE):
            return code
    if getattr(exc, "smtp_code", None) == -1 or re.search(_PROTOCOL_RULE, reply, re.IGNORECASE):
        return "protocol_error"
    if re.search(_CLOSED_RULE, reply, re.IGNORECASE):
        return "server_closed"
    step = "auth" if isinstance(exc, smtplib.SMTPAuthenticationError) else getattr(exc, "step", None)
    if step in _STEP_CODES:
        return _STEP_CODES[step]
    if re.search(_AUTH_RULE, reply, re.IGNORECASE):
        return "auth_failed"
    return "unknown"


def _classify_transport(exc):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _certificate_code(exc)
    if isinstance(exc, UnicodeError) and "idna" in str(exc):
        return "dns"
    return next((code for types, code in _TRANSPORT_CODES if isinstance(exc, types)), "unknown")


def _certificate_code(exc):
    if exc.verify_code in _EXPIRED_VERIFY_CODES:
        return "expired_certificate"
    if exc.verify_code in _MISMATCH_VERIFY_CODES:
        return "hostname_mismatch"
    return "untrusted_certificate"


def _sanitize(text, password):
    """One line of at most REPLY_LIMIT printable characters, with every form of the password masked.

    Control and format characters (bidi overrides and isolates, zero-width characters...) are
    dropped first: they could make the reply read otherwise than it is.
    """
    text = " ".join(_printable(text).split())
    for secret in _secret_forms(password):
        text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    return text[:REPLY_LIMIT]


def _printable(text):
    """``text`` without control, format, private-use or unassigned characters (whitespace is kept)."""
    return "".join(char for char in text if char.isspace() or unicodedata.category(char)[0] != "C")


def _secret_forms(password):
    """The password as sent, printable, IMAP-quoted, as in a bytes repr, in base64 (AUTH LOGIN), whitespace-collapsed,
    and its longer pieces.

    Longest first, so that a whole password is masked before its pieces.
    """
    forms = {password, _printable(password)}
    forms |= {form.replace("\\", "\\\\").replace('"', '\\"') for form in forms}
    forms |= {repr(form.encode())[2:-1] for form in forms}  # imaplib quotes replies as bytes reprs
    forms.add(base64.b64encode(password.encode()).decode())  # a server echoing AUTH LOGIN
    forms |= {" ".join(form.split()) for form in forms}
    forms |= {piece for form in forms for piece in form.split() if len(piece) >= 4}
    return sorted(filter(None, forms), key=len, reverse=True)
