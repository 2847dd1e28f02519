"""Find the IMAP and SMTP settings of a custom mail domain from what the domain publishes.

No Odoo import. :func:`discover` runs every lookup at once and returns within ``timeout``
seconds (5 by default), whatever the servers do:

- the domain's autoconfig file, in Thunderbird's format: first
  ``https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>``, then
  ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``;
- RFC 6186 / RFC 8314 SRV records: ``_imaps._tcp`` (implicit TLS) before ``_imap._tcp``
  (STARTTLS), ``_submissions._tcp`` (implicit TLS) before ``_submission._tcp`` (STARTTLS);
- the MX records, matched against the presets' MX patterns (passed in as :class:`Preset` data).

Priority when several sources answer (a proposal takes both sides from one source: IMAP and SMTP
found at different places could belong to different operators):

1. a source giving both IMAP and SMTP beats one giving a single side;
2. then an encrypted answer beats a plaintext one: plaintext is used only when nothing better
   is found, and flagged (:attr:`Proposal.plaintext`);
3. then autoconfig (the ``autoconfig.`` host, then the well-known path) > SRV > MX.
   The autoconfig file is written by the domain's owner for mail clients and is the only source
   that also gives the login form and the sign-in method; SRV records come from the same owner
   but give hosts and ports only; MX records say where mail is *received*, which is an
   inference about where users sign in (a filtering service may sit in front), so they come last.

Refused, with a reason that is logged, never a traceback: XML with a DOCTYPE, entities or
external references, malformed XML, files over :data:`MAX_BYTES`, redirects to anything but
HTTPS (at most :data:`MAX_REDIRECTS`), untrusted certificates, servers offering only OAuth or
another sign-in than a password, and, unless ``allow_private`` is set (local tests and demos),
autoconfig hosts that resolve to private or loopback addresses.

HTTP goes through requests, to the address given by the same DNS resolver as the other lookups
(the certificate is still verified for the name).
"""

import concurrent.futures
import contextlib
import functools
import ipaddress
import logging
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import defusedxml
import defusedxml.ElementTree
import dns.exception
import dns.resolver
import requests
import urllib3

from .probe import is_public_address, make_ssl_context

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_BYTES = 100_000
MAX_REDIRECTS = 3
ADDRESS = "%EMAILADDRESS%"
LOCAL_PART = "%EMAILLOCALPART%"

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_PLACEHOLDER = re.compile(r"%[A-Z]+%")
_LOGIN_PLACEHOLDERS = frozenset({ADDRESS, LOCAL_PART, "%EMAILDOMAIN%"})
_SOCKET_TYPES = {"ssl": "ssl", "starttls": "starttls", "plain": "none"}
_SECURITY_RANK = {"ssl": 0, "starttls": 1, "none": 2}
# Thunderbird's password methods, old names included; OAuth2, NTLM, GSSAPI and the rest are not usable here.
_PASSWORD_AUTH = frozenset({"password-cleartext", "password-encrypted", "plain", "secure"})
_SRV = {  # side -> (record prefix, security), best first
    "imap": (("_imaps._tcp", "ssl"), ("_imap._tcp", "starttls")),
    "smtp": (("_submissions._tcp", "ssl"), ("_submission._tcp", "starttls")),
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Refusal(Exception):
    """A source answered nothing usable; the message says why, in plain words."""


@dataclass(frozen=True)
class Server:
    """One side of a mailbox: host, port and security ('ssl', 'starttls' or 'none')."""

    host: str
    port: int
    security: str


@dataclass(frozen=True)
class Preset:
    """What discovery needs of a provider preset: its MX host suffixes and its settings."""

    code: str
    mx_patterns: tuple
    imap: Server
    smtp: Server
    login: str = ADDRESS


@dataclass(frozen=True)
class Proposal:
    """Settings found for a domain, and where they come from.

    ``source`` is 'autoconfig', 'srv' or 'mx'; ``origin`` is the autoconfig file's URL, the SRV
    record names, or the MX host; ``preset`` is the code of the preset the MX matched.
    ``login`` is a template: %EMAILADDRESS%, %EMAILLOCALPART% (see :meth:`login_for`).
    """

    imap: Server | None
    smtp: Server | None
    login: str
    source: str
    origin: str
    preset: str | None = None

    @property
    def complete(self):
        return bool(self.imap and self.smtp)

    @property
    def plaintext(self):
        """Whether a side would connect without encryption."""
        return any(server and server.security == "none" for server in (self.imap, self.smtp))

    @property
    def description(self):
        """Where the settings come from, in English (for logs)."""
        return {
            "autoconfig": f"autoconfig file at {self.origin}",
            "srv": f"SRV records {self.origin}",
            "mx": f"MX records: the domain's mail is hosted at {self.origin}, preset {self.preset}",
        }[self.source]

    def login_for(self, email):
        """The login for ``email``: the template with the address's parts filled in."""
        local, _, domain = email.rpartition("@")
        return self.login.replace(ADDRESS, email).replace(LOCAL_PART, local).replace("%EMAILDOMAIN%", domain)


def make_resolver(nameserver=None):
    """A DNS resolver: the system's, or ``nameserver`` as 'IP', 'IP:PORT' or '[IPv6]:PORT' (tests, offline demos).

    Raises ValueError when ``nameserver`` is not an IP address or the system has no DNS configuration.
    """
    if not nameserver:
        try:
            return dns.resolver.Resolver()
        except dns.exception.DNSException as exc:
            raise ValueError(f"the system's DNS configuration is unusable ({exc})") from None
    text = nameserver.strip()
    if text.startswith("["):
        address, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    elif text.count(":") == 1:
        address, _, port = text.partition(":")
    else:
        address, port = text, ""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [str(ipaddress.ip_address(address))]  # ValueError when not an IP address
    resolver.port = int(port or 53)
    return resolver


def discover(email, presets=(), resolver=None, http_get=None, timeout=DEFAULT_TIMEOUT):
    """Look the settings of ``email``'s domain up; return the best :class:`Proposal`, or None.

    ``presets`` are :class:`Preset` items for the MX lookup; ``resolver`` is a dnspython resolver
    (:func:`make_resolver` by default); ``http_get(url, deadline)`` returns the bytes at an HTTPS
    URL or raises :class:`Refusal` (an :class:`HttpsFetcher` on ``resolver`` by default).
    Returns within about ``timeout`` seconds; why each source gave nothing is logged.
    Raises ValueError only when no resolver is given and the system has no DNS configuration.
    """
    domain = _ascii_domain(email)
    if not domain:
        _logger.info("mail settings discovery: %r has no usable domain", email)
        return None
    resolver = resolver or make_resolver()
    http_get = http_get or HttpsFetcher(resolver)
    deadline = Deadline(timeout)
    urls = (
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={quote(email, safe='@')}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    )
    tasks = {
        **{url: functools.partial(_from_autoconfig, url, domain, http_get, deadline) for url in urls},
        **{prefix: functools.partial(_srv_server, f"{prefix}.{domain}", security, resolver, deadline)
           for choices in _SRV.values() for prefix, security in choices},
        "mx": functools.partial(_from_mx, domain, tuple(presets), resolver, deadline),
    }
    results = _run(tasks, deadline, domain)
    candidates = [results[urls[0]], results[urls[1]], _srv_proposal(domain, results), results["mx"]]
    ranked = [(rank, proposal) for rank, proposal in enumerate(candidates) if proposal]
    if not ranked:
        return None
    best = min(ranked, key=lambda item: (not item[1].complete, item[1].plaintext, item[0]))[1]
    _logger.info("mail settings discovery for %s: found in the %s", domain, best.description)
    return best


def _run(tasks, deadline, domain):
    """Run every task at once until the deadline: {key: result, or None when refused, failed or late}."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="mcl-discovery")
    try:
        futures = {key: pool.submit(task) for key, task in tasks.items()}
        concurrent.futures.wait(futures.values(), timeout=deadline.remaining())
    finally:
        deadline.expire()
        pool.shutdown(wait=False, cancel_futures=True)
    return {key: _result(key, future, domain) for key, future in futures.items()}


def _result(key, future, domain):
    if not future.done():
        _logger.info("mail settings discovery for %s: %s did not answer in time", domain, key)
        return None
    exc = future.exception()
    if isinstance(exc, Refusal):
        _logger.info("mail settings discovery for %s: %s", domain, exc)
        return None
    if exc is not None:
        _logger.warning("mail settings discovery for %s: %s failed", domain, key, exc_info=exc)
        return None
    return future.result()


def _ascii_domain(email):
    domain = (email or "").rpartition("@")[2].strip().rstrip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return domain if _HOST.match(domain) and "." in domain else None


# --- Time bound ---------------------------------------------------------------------------------


class Deadline:
    """The end of a discovery: time left for each lookup, and the sockets to cut when it comes.

    Sockets are watched through a dup() of their descriptor, which stays valid once TLS wraps them;
    shutting it down wakes a read blocked on a server that trickles bytes.
    """

    def __init__(self, seconds):
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._handles = []
        self._expired = False

    def remaining(self):
        return max(0.0, self._end - time.monotonic())

    def guard(self, sock):
        """Watch ``sock``; close it and raise TimeoutError if the deadline has passed."""
        with self._lock:
            if self._expired or not self.remaining():
                sock.close()
                raise TimeoutError("the discovery's time is up")
            self._handles.append(sock.dup())
        return sock

    def expire(self):
        """Cut every watched connection."""
        with self._lock:
            self._expired = True
            for handle in self._handles:
                with contextlib.suppress(OSError):
                    handle.shutdown(socket.SHUT_RDWR)
                handle.close()
            self._handles.clear()


# --- DNS ----------------------------------------------------------------------------------------


def _query(resolver, name, rdtype, deadline):
    """The records of ``name``, empty when there are none; Refusal when the DNS does not answer."""
    try:
        return list(resolver.resolve(name, rdtype, lifetime=max(deadline.remaining(), 0.01)))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout:
        raise Refusal(f"no DNS answer for {name} {rdtype} in time") from None
    except dns.exception.DNSException as exc:
        raise Refusal(f"DNS lookup of {name} {rdtype} failed: {exc}") from None


def _srv_server(name, security, resolver, deadline):
    """The Server of the best SRV record ``name``, or None ("." as target means: not offered)."""
    records = [r for r in _query(resolver, name, "SRV", deadline) if str(r.target) != "."]
    for record in sorted(records, key=lambda r: (r.priority, -r.weight)):
        host = record.target.to_text(omit_final_dot=True).lower()
        if _HOST.match(host) and 0 < record.port < 65536:
            return Server(host, record.port, security)
    return None


def _srv_proposal(domain, results):
    """A Proposal from the SRV answers, implicit TLS first on each side; None without any."""
    sides = {
        side: next(((results[prefix], f"{prefix}.{domain}") for prefix, _ in choices if results[prefix]), None)
        for side, choices in _SRV.items()
    }
    found = [answer for answer in sides.values() if answer]
    if not found:
        return None
    return Proposal(
        imap=sides["imap"] and sides["imap"][0],
        smtp=sides["smtp"] and sides["smtp"][0],
        login=ADDRESS,
        source="srv",
        origin=", ".join(name for _server, name in found),
    )


def _from_mx(domain, presets, resolver, deadline):
    records = sorted(_query(resolver, domain, "MX", deadline), key=lambda r: r.preference)
    hosts = [r.exchange.to_text(omit_final_dot=True).lower() for r in records]
    for host in hosts:
        preset = next((p for p in presets if any(_is_under(host, pattern) for pattern in p.mx_patterns)), None)
        if preset:
            return Proposal(preset.imap, preset.smtp, preset.login, "mx", host, preset.code)
    raise Refusal(f"the MX hosts of {domain} ({', '.join(hosts) or 'none'}) match no known provider")


def _is_under(host, pattern):
    pattern = pattern.strip().lower().rstrip(".")
    return bool(pattern) and (host == pattern or host.endswith("." + pattern))


# --- Autoconfig file ----------------------------------------------------------------------------


def _from_autoconfig(url, domain, http_get, deadline):
    return parse_autoconfig(http_get(url, deadline), url, domain)


def parse_autoconfig(data, url, domain):
    """A Proposal from a Thunderbird autoconfig file (bytes); Refusal when unsafe or unusable."""
    root = _parse_xml(data, url)
    provider = root.find("emailProvider") if root.tag == "clientConfig" else None
    if provider is None:
        raise Refusal(f"{url} is not an autoconfig file (no clientConfig/emailProvider)")
    reasons = []
    imap = _best_server(provider.findall("incomingServer[@type='imap']"), domain, reasons)
    smtp = _best_server(provider.findall("outgoingServer[@type='smtp']"), domain, reasons)
    if not (imap or smtp):
        raise Refusal(f"{url} offers no usable IMAP or SMTP server: {'; '.join(reasons) or 'none listed'}")
    login = imap[1] if imap else smtp[1]
    return Proposal(imap and imap[0], smtp and smtp[0], login, "autoconfig", url)


def _parse_xml(data, url):
    """The root element; no DTD, no entity, no external reference, ever."""
    try:
        return defusedxml.ElementTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise Refusal(f"{url} declares a DOCTYPE, which an autoconfig file never needs: refused") from None
    except defusedxml.EntitiesForbidden:
        raise Refusal(f"{url} declares XML entities: refused") from None
    except defusedxml.DefusedXmlException as exc:
        raise Refusal(f"{url} is unsafe XML ({type(exc).__name__}): refused") from None
    except ET.ParseError as exc:
        raise Refusal(f"{url} is not well-formed XML ({exc})") from None


def _best_server(elements, domain, reasons):
    """(Server, login template) of the best usable entry: by security, then in the file's order."""
    usable = []
    for element in elements:
        try:
            usable.append(_server_entry(element, domain))
        except Refusal as refusal:
            reasons.append(str(refusal))
    if not usable:
        return None
    return min(usable, key=lambda entry: _SECURITY_RANK[entry[0].security])


def _server_entry(element, domain):
    kind = element.get("type")
    methods = {(auth.text or "").strip().lower() for auth in element.findall("authentication")}
    if not methods & _PASSWORD_AUTH:
        only = ", ".join(sorted(methods)) or "none"
        raise Refusal(f"the {kind} server accepts no password sign-in (only: {only})")
    host = _text(element, "hostname").replace("%EMAILDOMAIN%", domain).lower()
    port = _text(element, "port")
    security = _SOCKET_TYPES.get(_text(element, "socketType").lower())
    if not (_HOST.match(host) and port.isdigit() and 0 < int(port) < 65536 and security):
        raise Refusal(f"the {kind} server entry is incomplete or invalid ({host or '?'}:{port or '?'})")
    login = _text(element, "username") or ADDRESS
    if not set(_PLACEHOLDER.findall(login)) <= _LOGIN_PLACEHOLDERS:
        login = ADDRESS
    return Server(host, int(port), security), login


def _text(element, tag):
    return (element.findtext(tag) or "").strip()


# --- HTTPS --------------------------------------------------------------------------------------


class HttpsFetcher:
    """GET an HTTPS URL with requests, resolving names with a dnspython resolver.

    Certificates are verified (the system store, plus ``cafile``); redirects are followed by hand,
    to HTTPS only, at most MAX_REDIRECTS times; bodies are capped at MAX_BYTES. ``allow_private``
    lets names resolve to loopback or private addresses (local tests, offline demos); ``port``
    replaces 443 (tests, whose server listens on a free port).
    """

    def __init__(self, resolver, cafile=None, allow_private=False, port=None):
        self.resolver = resolver
        self.cafile = cafile
        self.allow_private = allow_private
        self.port = port

    def __call__(self, url, deadline):
        for _hop in range(MAX_REDIRECTS + 1):
            host = self._check_url(url)
            with self._session(host, deadline) as session, self._get(session, url, host, deadline) as response:
                if response.status_code not in _REDIRECTS or "Location" not in response.headers:
                    return self._body(url, response)
                target = urljoin(url, response.headers["Location"])
            if urlsplit(target).scheme != "https":
                raise Refusal(f"{url} redirects to {target}, which is not HTTPS: refused")
            url = target
        raise Refusal(f"more than {MAX_REDIRECTS} redirects, ending at {url}: refused")

    @staticmethod
    def _check_url(url):
        """The URL's host name; Refusal unless it is an HTTPS URL."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise Refusal(f"{url} is not an HTTPS URL: refused")
        return parts.hostname

    def _session(self, host, deadline):
        """A requests session whose HTTPS connections go to the address resolved for ``host``."""
        session = requests.Session()
        session.trust_env = False  # no proxy, no .netrc: the connection goes to the address resolved here
        adapter = _PinnedAdapter(self._address(host, deadline), self.port, deadline, make_ssl_context(self.cafile))
        session.mount("https://", adapter)
        return session

    @staticmethod
    def _get(session, url, host, deadline):
        timeout = max(deadline.remaining(), 0.01)
        headers = {"Accept": "application/xml, text/xml", "Accept-Encoding": "identity"}
        try:
            return session.get(url, headers=headers, timeout=(timeout, timeout), stream=True, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise Refusal(f"the certificate of {host} is not trusted or not valid for it ({exc})") from None
        except requests.exceptions.RequestException as exc:
            raise Refusal(f"{url} could not be fetched ({type(exc).__name__})") from None

    def _address(self, host, deadline):
        """The IP address to connect to for ``host``, from the resolver."""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            records = _query(self.resolver, host, "A", deadline) or _query(self.resolver, host, "AAAA", deadline)
            addresses = [ipaddress.ip_address(record.address) for record in records]
        if not addresses:
            raise Refusal(f"{host} does not resolve")
        if not (self.allow_private or is_public_address(addresses[0])):
            raise Refusal(f"{host} resolves to the non-public address {addresses[0]}: refused")
        return str(addresses[0])

    @staticmethod
    def _body(url, response):
        if response.status_code != 200:
            raise Refusal(f"{url} answered HTTP {response.status_code}")
        if response.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise Refusal(f"{url} is sent compressed although that was not asked for: refused")
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=8192):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise Refusal(f"{url} is larger than {MAX_BYTES // 1000} kB: refused")
        except requests.exceptions.RequestException as exc:
            raise Refusal(f"{url} could not be read to the end ({type(exc).__name__})") from None
        return bytes(body)


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connects to a given address (and port), whatever the URL's host, which still names the
    server for SNI, the Host header and the certificate check; every socket is watched by the deadline."""

    def __init__(self, address, port, deadline, ssl_context):
        super().__init__(max_retries=0)
        self.poolmanager.pool_classes_by_scheme = {"https": _pinned_pool_class(address, port, deadline)}
        self.poolmanager.connection_pool_kw["ssl_context"] = ssl_context


def _pinned_pool_class(address, port, deadline):
    class PinnedConnection(urllib3.connection.HTTPSConnection):
        def _new_conn(self):
            try:
                sock = urllib3.util.connection.create_connection((address, port or self.port), self.timeout)
            except OSError as exc:
                raise urllib3.exceptions.NewConnectionError(self, f"cannot connect to {address}: {exc}") from exc
            return deadline.guard(sock)

    class PinnedPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = PinnedConnection

    return PinnedPool
