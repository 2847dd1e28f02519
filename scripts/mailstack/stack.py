"""The Python API: start, inspect, feed and stop one mail stack."""

import email
import email.policy
import html.parser
import http.client
import imaplib
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from . import dovecot, grants, procs, store
from .ca import ensure_certificates
from .layout import HOST, Layout, StackError, recorded_port_base
from .submission import check_reply

PACKAGE_DIR = Path(__file__).resolve().parent
READY_TIMEOUT = 30.0


def check_prerequisites():
    """Dovecot installed, root, and aiosmtpd importable by this interpreter (it runs the servers)."""
    dovecot.binary()
    if os.geteuid() != 0:
        raise StackError(
            "the mail stack must be started as root: Dovecot switches to its own users (dovecot, dovenull)"
        )
    if importlib.util.find_spec("aiosmtpd") is None:
        raise StackError(f"aiosmtpd is missing from {sys.executable}: run scripts/bootstrap.sh and use its virtualenv")


def check_free_ports(layout):
    """Raise a StackError naming the first port that something else already holds."""
    for name, port in layout.ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError as error:
                raise StackError(
                    f"port {port} ({name}) on {HOST} is already in use ({error.strerror}): stop what listens there "
                    f"(ss -ltnp 'sport = :{port}') or pick another --port-base"
                ) from None


def answers(port):
    """True when something accepts TCP connections on HOST:port."""
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def last_line(path):
    """Last line of a log file, for one-line error messages."""
    lines = Path(path).read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "nothing logged"


class FormReader(html.parser.HTMLParser):
    """The first form of a page (action and input values) and the text of its #mcl-idp-error element."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.error, self._in_error = None, {}, "", False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action", "")
        elif tag == "input" and attrs.get("name") and attrs.get("type") in ("hidden", "email", "text"):
            self.fields[attrs["name"]] = attrs.get("value") or ""
        self._in_error = self._in_error or attrs.get("id") == "mcl-idp-error"

    def handle_data(self, data):
        if self._in_error:
            self.error += data

    def handle_endtag(self, tag):
        self._in_error = False


def quoted(text):
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Stack:
    """A local mail stack: Dovecot (IMAP, LMTP), SMTP submission, an IMAP replay server, a test CA.

    `port_base` defaults to the one recorded by the last start in `directory` (else 10000).
    """

    def __init__(self, directory, port_base=None):
        self.layout = Layout.load(directory, port_base)

    @property
    def dir(self):
        return self.layout.dir

    @property
    def ports(self):
        """Service name -> TCP port on 127.0.0.1."""
        return self.layout.ports

    @property
    def ca_file(self):
        """PEM file of the test CA that clients must trust."""
        return self.layout.ca_file

    def _where(self):
        return ["--dir", str(self.layout.dir), "--port-base", str(self.layout.port_base)]

    def _servers_marker(self):
        return f"serve --dir {self.layout.dir} "

    def pids(self):
        """{'dovecot': pid or None, 'servers': pid or None}."""
        return {
            "dovecot": dovecot.pid(self.layout),
            "servers": procs.running_pid(self.layout.servers_pidfile, self._servers_marker()),
        }

    def running(self):
        """True when both the Dovecot master and the Python servers are alive."""
        return all(self.pids().values())

    def status(self):
        """Service name -> whether its port answers right now."""
        return {name: answers(port) for name, port in self.ports.items()}

    def start(self, users=None):
        """Start everything and wait until every port answers; False if it was already running.

        `users` maps e-mail addresses to passwords, added before start.
        """
        if self.running():
            self._check_same_base()
            self.add_users(users or {})
            return False
        self.stop()
        check_prerequisites()
        self.layout.dir.mkdir(parents=True, exist_ok=True)
        check_free_ports(self.layout)
        self._prepare(users)
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise
        return True

    def _check_same_base(self):
        running_base = recorded_port_base(self.layout.dir)
        if running_base != self.layout.port_base:
            raise StackError(
                f"a stack already runs in {self.layout.dir} on port base {running_base}: "
                f"stop it first (stop --dir {self.layout.dir})"
            )

    def _prepare(self, users):
        """Certificates, users, fresh replies and state; nothing is started yet."""
        ensure_certificates(self.layout)
        self.layout.relay_dir.mkdir(exist_ok=True)
        store.add_users(self.layout.passwd, users or {}, dovecot.mail_owner()[1])
        self.clear_replies()
        self._reset_oauth()
        store.write_json(self.layout.state_file, {"port_base": self.layout.port_base})
        dovecot.prepare(self.layout)

    def _launch(self):
        dovecot.start(self.layout)
        self.start_servers()

    # --- faults: the SMTP/IMAP-replay servers alone (Dovecot goes on) ---------------------------

    def signal_servers(self, sig):
        """Send ``sig`` to the SMTP servers' process (SIGSTOP: they hang; SIGCONT: they go on; SIGKILL:
        they vanish, connections cut); False if it was not running."""
        pid = self.pids()["servers"]
        if pid:
            os.kill(pid, sig)
        return bool(pid)

    def start_servers(self, append=False):
        """Start the SMTP servers and wait until they answer; ``append`` to their log (a restart)."""
        with open(self.layout.servers_log, "ab" if append else "wb") as log:
            servers = subprocess.Popen(
                [sys.executable, str(PACKAGE_DIR), "serve", *self._where()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
            )
        self.layout.servers_pidfile.write_text(f"{servers.pid}\n")
        self._wait_ready(servers)

    def _wait_ready(self, servers):
        """Poll the ports until all answer; fail early when a process dies."""
        pending = dict(self.ports)
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            if servers.poll() is not None:
                raise StackError(f"the SMTP/IMAP replay servers stopped: {last_line(self.layout.servers_log)}")
            if not dovecot.pid(self.layout):
                raise StackError(f"Dovecot stopped: {dovecot.first_error(self.layout)}")
            if time.monotonic() > deadline:
                raise StackError(
                    f"ports {sorted(pending.values())} did not answer in {READY_TIMEOUT:.0f} s: "
                    f"see {self.layout.dovecot_log} and {self.layout.servers_log}"
                )
            pending = {name: port for name, port in pending.items() if not answers(port)}
            time.sleep(0.02 if pending else 0)

    def stop(self):
        """Stop whatever this directory's pid files name; True if something was running."""
        pids = self.pids()
        if pids["servers"]:
            procs.terminate([(pids["servers"], self._servers_marker())])
        dovecot.stop(self.layout)
        self.layout.servers_pidfile.unlink(missing_ok=True)
        return any(pids.values())

    def add_user(self, address, password):
        """Add (or update) a mailbox user; Dovecot and SMTP see it when this returns, even while running."""
        self.add_users({address: password})

    def add_users(self, users):
        """Add (or update) several users (address -> password) at once."""
        if not users:
            return
        self.layout.dir.mkdir(parents=True, exist_ok=True)
        store.add_users(self.layout.passwd, users, dovecot.mail_owner()[1])
        if dovecot.pid(self.layout):
            # Dovecot looks at the passwd-file at most once per wall-clock second: let that second pass.
            time.sleep(1.01 - time.time() % 1)

    def set_smtp_reply(self, login, reply):
        """Answer every AUTH of `login` with `reply` (lines split on newlines); None removes it."""
        if reply is not None:
            check_reply(reply)
        store.set_reply(self.layout.smtp_replies, login, reply)

    def set_imap_reply(self, login, reply):
        """Answer LOGIN of `login` on the replay server with the tagged `reply`; None removes it."""
        store.set_reply(self.layout.imap_replies, login, reply)

    def clear_replies(self):
        """Forget every canned SMTP and IMAP reply."""
        for path in (self.layout.smtp_replies, self.layout.imap_replies):
            store.write_json(path, {})

    # --- OAuth: the identity server and XOAUTH2 -------------------------------------------------

    def _reset_oauth(self):
        """No clients, flags, revocations or tokens: a fresh start is a fresh identity provider."""
        for path in (self.layout.oauth_clients, self.layout.oauth_users, self.layout.oauth_revocations):
            store.write_json(path, {})
        self.layout.oauth_grants.unlink(missing_ok=True)

    def oauth_register_client(self, client_id, client_secret, redirect_uri):
        """Register an OAuth client (or give it a new secret); call again to allow more redirect URIs."""
        clients = store.read_json(self.layout.oauth_clients)
        client = clients.setdefault(client_id, {"redirect_uris": []})
        client["secret"] = client_secret
        if redirect_uri not in client["redirect_uris"]:
            client["redirect_uris"].append(redirect_uri)
        store.write_json(self.layout.oauth_clients, clients)

    def oauth_set_user(self, login, **flags):
        """Set the identity server's behaviour for `login`; no flags resets it. Flags: authorize_error (None,
        'consent_refused', 'admin_consent_required', 'user_not_assigned'), access_lifetime and refresh_lifetime
        (seconds), imap_disabled, smtp_auth_disabled."""
        grants.check_flags(flags)
        users = store.read_json(self.layout.oauth_users)
        users[login.lower()] = flags
        store.write_json(self.layout.oauth_users, users)

    def _mark_revocation(self, login, what):
        revocations = store.read_json(self.layout.oauth_revocations)
        revocations.setdefault(login.lower(), {})[what] = time.time()
        store.write_json(self.layout.oauth_revocations, revocations)

    def oauth_revoke(self, login):
        """Every refresh and access token issued to `login` so far stops working."""
        self._mark_revocation(login, "revoked")

    def oauth_expire_access_tokens(self, login):
        """The access tokens issued to `login` so far expire now; its refresh tokens stay valid."""
        self._mark_revocation(login, "access_expired")

    def oauth_stats(self):
        """Counters of the identity server and of XOAUTH2 on SMTP since the servers started."""
        return {**dict.fromkeys(grants.STAT_NAMES, 0), **store.read_json(self.layout.oauth_stats)}

    def oauth_urls(self):
        """Endpoints to configure clients with (Odoo: microsoft_outlook.endpoint, Google's authorize/token URLs)."""
        base = f"https://localhost:{self.ports['oauth']}"
        return {
            "microsoft_endpoint": f"{base}/common/oauth2/v2.0/",
            "google_authorize": f"{base}/google/auth",
            "google_token": f"{base}/google/token",
        }

    def oauth_sign_in(self, authorize_url, login, password, decision="accept"):
        """Play the browser: open `authorize_url`, submit its form, return the Location it redirects to.

        A StackError carries the page's error text when there is no redirect (unknown client, wrong password).
        """
        parts = urlsplit(authorize_url)
        status, headers, page = self._https("GET", parts.netloc, f"{parts.path}?{parts.query}")
        form = FormReader()
        form.feed(page)
        if status != 200 or form.action is None:
            raise StackError(f"no sign-in form at {authorize_url} (HTTP {status}): {form.error.strip()}")
        fields = {**form.fields, "login": login, "password": password, "decision": decision}
        status, headers, page = self._https("POST", parts.netloc, form.action or parts.path, urlencode(fields))
        if status in (301, 302, 303) and headers.get("Location"):
            return headers["Location"]
        form = FormReader()
        form.feed(page)
        raise StackError(f"sign-in did not redirect (HTTP {status}): {form.error.strip() or page[:200]}")

    def _https(self, method, netloc, path, body=None):
        """(status, headers, text) of one request verified against the test CA; redirects are not followed."""
        connection = http.client.HTTPSConnection(netloc, timeout=10, context=self.ssl_context())
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode(errors="replace")
        finally:
            connection.close()

    def smtp_stats(self):
        """{'logins': successful SMTP AUTHs, 'messages': accepted messages} since the last start."""
        return store.read_json(self.layout.smtp_stats) or {"logins": 0, "messages": 0}

    def ssl_context(self):
        """A client TLS context that trusts the test CA (and verifies names as usual)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def fetch_messages(self, address, password, folder="INBOX"):
        """Every message in `folder` of a mailbox, read over IMAPS with a verified certificate."""
        with imaplib.IMAP4_SSL("localhost", self.ports["imaps"], ssl_context=self.ssl_context()) as imap:
            imap.login(address, password)
            status, detail = imap.select(quoted(folder), readonly=True)
            if status != "OK":
                raise imaplib.IMAP4.error(f"cannot open {folder!r}: {detail}")
            _, data = imap.search(None, "ALL")
            return [self._fetch(imap, number) for number in data[0].split()]

    @staticmethod
    def _fetch(imap, number):
        _, data = imap.fetch(number, "(BODY.PEEK[])")
        return email.message_from_bytes(data[0][1], policy=email.policy.default)

    def relayed_messages(self):
        """Messages accepted for non-local recipients, oldest first, from relay/*.eml."""
        paths = sorted(self.layout.relay_dir.glob("*.eml"))
        return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in paths]

    def env(self):
        """Settings for shells: MAILSTACK_DIR, _PORT_BASE, _HOST, _CA_FILE, _CA_BUNDLE and one _<SERVICE>_PORT each."""
        values = {
            "MAILSTACK_DIR": str(self.dir),
            "MAILSTACK_PORT_BASE": str(self.layout.port_base),
            "MAILSTACK_HOST": "localhost",
            "MAILSTACK_CA_FILE": str(self.ca_file),
            "MAILSTACK_CA_BUNDLE": str(self.layout.ca_bundle),
        }
        values.update({f"MAILSTACK_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        return values
