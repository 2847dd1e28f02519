"""A local HTTPS identity server shaped like Microsoft's and Google's: authorize, token, introspection (Dovecot)."""

import base64
import datetime
import html
import json
import logging
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import grants, store
from .layout import HOST
from .provider_texts import GOOGLE, GOOGLE_PAGES, MICROSOFT, SIGN_IN_FAILED, TENANT_ID

log = logging.getLogger("mailstack.identity")
MAX_BODY = 64 * 1024
MAX_DISCARD = 1024 * 1024
MICROSOFT_PREFIX = "/common/oauth2/v2.0/"
# Path -> (provider, endpoint).
ROUTES = {
    MICROSOFT_PREFIX + "authorize": ("microsoft", "authorize"),
    MICROSOFT_PREFIX + "token": ("microsoft", "token"),
    "/google/auth": ("google", "authorize"),
    "/google/token": ("google", "token"),
    "/introspect": (None, "introspect"),
}
ISSUERS = {"microsoft": f"https://login.microsoftonline.com/{TENANT_ID}/v2.0", "google": "https://accounts.google.com"}
# Fields of the sign-in form itself; every other parameter of the authorize request rides along hidden.
FORM_FIELDS = ("login", "password", "decision")

SIGN_IN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Sign in - mailstack identity server</title></head>
<body>
<h1>Sign in</h1>
<p>{client_id} wants to access your mailbox ({scope}).</p>
{error}<form method="post" action="{action}">
{hidden}<p><label>Email <input id="mcl-idp-login" name="login" type="email" value="{login}"></label></p>
<p><label>Password <input id="mcl-idp-password" name="password" type="password"></label></p>
<p><button id="mcl-idp-accept" type="submit" name="decision" value="accept">Accept</button>
<button id="mcl-idp-decline" type="submit" name="decision" value="decline">Decline</button></p>
</form>
</body></html>
"""
ERROR_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Sign in error</title></head>
<body><h1>Sorry, but we're having trouble signing you in.</h1><p id="mcl-idp-error">{message}</p></body></html>
"""


def now_stamp():
    """Microsoft's timestamp format: 2021-01-13 10:05:13Z."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def iso_stamp(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def microsoft_text(reason, **values):
    """(error, code, 'AADSTSnnn: text') for a reason of provider_texts.MICROSOFT."""
    error, code, text = MICROSOFT[reason]
    return error, code, f"AADSTS{code}: " + text.format(tenant=TENANT_ID, **values)


def microsoft_error_body(reason, **values):
    """The JSON body of a Microsoft token endpoint error."""
    error, code, text = microsoft_text(reason, **values)
    stamp, trace, correlation = now_stamp(), str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "error": error,
        "error_description": f"{text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def token_error(provider, reason, **values):
    """(HTTP status, JSON body) of a token endpoint error, in the provider's shape."""
    if provider == "google":
        status, error, text = GOOGLE[reason]
        return status, {"error": error, "error_description": text.format(**values)}
    status = 401 if reason == "wrong_secret" else 400
    return status, microsoft_error_body(reason, **values)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def id_token(provider, login, client_id, lifetime):
    """An unsigned JWT (alg none): the client got it straight from the token endpoint over TLS."""
    now = int(time.time())
    claims = {
        "iss": ISSUERS[provider],
        "aud": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailstack:sub:{login}")),
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailstack:oid:{login}")),
        "tid": TENANT_ID,
        "preferred_username": login,
        "email": login,
        "name": login.split("@")[0].replace(".", " ").title(),
        "ver": "2.0",
    }
    header = {"alg": "none", "typ": "JWT"}
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def with_query(url, params):
    """`url` with `params` appended to its query string."""
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


class IdentityServer(ThreadingHTTPServer):
    """The HTTPS server; TLS handshakes happen in the request threads, not in the accepting one."""

    daemon_threads = True

    def __init__(self, layout, context, grants_store, counters):
        self.layout = layout
        self.grants = grants_store
        self.counters = counters
        super().__init__((HOST, layout.ports["oauth"]), Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        """Port probes and clients that give up mid-handshake are routine: one debug line, no traceback."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    """One request to the identity server."""

    server_version = "mailstack-identity"
    timeout = 10

    def setup(self):
        super().setup()
        self.request.do_handshake()

    def log_message(self, fmt, *args):
        log.info("%s %s", self.address_string(), fmt % args)

    # --- plumbing -----------------------------------------------------------------------------

    def route(self):
        """(provider, endpoint, query parameters) of the request path; endpoint None when unknown."""
        parts = urlsplit(self.path)
        provider, endpoint = ROUTES.get(parts.path, (None, None))
        return provider, endpoint, dict(parse_qsl(parts.query))

    def read_form(self):
        """The form-encoded body, or None after answering 413 for a body over MAX_BODY."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.discard_body(length)
            self.close_connection = True
            self.send_text(413, "text/plain", "Request body too large\n", headers=[("Connection", "close")])
            return None
        return dict(parse_qsl(self.rfile.read(length).decode(errors="replace")))

    def discard_body(self, length):
        """Read a refused body (up to MAX_DISCARD) so that the client gets to read the 413 instead of a reset."""
        left = min(length, MAX_DISCARD)
        while left > 0:
            chunk = self.rfile.read(min(left, MAX_BODY))
            if not chunk:
                break
            left -= len(chunk)

    def send_text(self, status, content_type, text, headers=()):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, data):
        self.send_text(status, "application/json", json.dumps(data))

    def redirect(self, url):
        self.send_text(302, "text/plain", "", headers=[("Location", url)])

    def error_page(self, message):
        self.send_text(400, "text/html", ERROR_PAGE.format(message=html.escape(message)))

    # --- HTTP verbs ---------------------------------------------------------------------------

    def do_GET(self):
        provider, endpoint, query = self.route()
        if endpoint != "authorize":
            self.send_text(404, "text/plain", "Not found\n")
            return
        if self.check_client(provider, query):
            self.sign_in_page(query)

    def do_POST(self):
        provider, endpoint, query = self.route()
        if endpoint is None:
            self.send_text(404, "text/plain", "Not found\n")
            return
        form = self.read_form()
        if form is None:
            return
        if endpoint == "authorize":
            self.authorize(provider, {**query, **form})
        elif endpoint == "token":
            self.token(provider, form)
        else:
            self.introspect(form)

    # --- authorize ----------------------------------------------------------------------------

    def check_client(self, provider, params):
        """True for a registered client and redirect URI; else an error page (no redirect) and False."""
        client = store.read_json(self.server.layout.oauth_clients).get(params.get("client_id", ""))
        reason = None
        if client is None:
            reason = "unknown_client"
        elif params.get("redirect_uri") not in client["redirect_uris"]:
            reason = "unknown_redirect_uri"
        if reason is None:
            return True
        if provider == "google":
            self.error_page(GOOGLE_PAGES[reason])
        else:
            values = {"client_id": params.get("client_id", ""), "redirect_uri": params.get("redirect_uri", "")}
            self.error_page(microsoft_text(reason, **values)[2])
        return False

    def sign_in_page(self, params, error=""):
        fields = {name: value for name, value in params.items() if name not in FORM_FIELDS}
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">\n'
            for name, value in fields.items()
        )
        page = SIGN_IN_PAGE.format(
            client_id=html.escape(params["client_id"]),
            scope=html.escape(params.get("scope", "")),
            error=f'<p id="mcl-idp-error" style="color:#a00">{html.escape(error)}</p>\n' if error else "",
            action=html.escape(urlsplit(self.path).path),
            hidden=hidden,
            login=html.escape(params.get("login") or params.get("login_hint", "")),
        )
        self.send_text(200, "text/html", page)

    def authorize(self, provider, params):
        """The sign-in form's answer: decline, wrong password, a flagged user's error, or a code."""
        if not self.check_client(provider, params):
            return
        if params.get("decision") == "decline":
            self.server.counters.bump("authorize_declined")
            self.redirect_error(provider, params, "consent_refused")
            return
        login = params.get("login", "").strip().lower()
        password = store.read_users(self.server.layout.passwd).get(login)
        if password is None or not secrets.compare_digest(password, params.get("password", "")):
            self.sign_in_page(params, SIGN_IN_FAILED)
            return
        refusal = grants.user_flags(self.server.layout, login)["authorize_error"]
        if refusal:
            self.server.counters.bump("authorize_declined")
            self.redirect_error(provider, params, refusal, login=login)
            return
        code = self.server.grants.issue_code(
            params["client_id"], params["redirect_uri"], params.get("scope", ""), login,
            # Google issues a refresh token only to an offline request (Microsoft: scope offline_access).
            offline=params.get("access_type") == "offline" if provider == "google" else True,
        )
        self.server.counters.bump("authorize_accepted")
        self.redirect(with_query(params["redirect_uri"], {"code": code, "state": params.get("state", "")}))

    def redirect_error(self, provider, params, reason, login=""):
        """Back to the client with error (and, at Microsoft, error_description) and the state."""
        error, _, text = microsoft_text(reason, client_id=params["client_id"], login=login)
        answer = {"error": error}
        if provider == "microsoft":
            answer["error_description"] = text
        answer["state"] = params.get("state", "")
        self.redirect(with_query(params["redirect_uri"], answer))

    # --- token --------------------------------------------------------------------------------

    def token(self, provider, form):
        """Client authentication, then the authorization_code or refresh_token grant."""
        status, body = self.token_answer(provider, form)
        if status != 200:
            self.server.counters.bump("token_errors")
        self.send_json(status, body)

    def token_answer(self, provider, form):
        """(HTTP status, JSON body)."""
        client_id = form.get("client_id", "")
        client = store.read_json(self.server.layout.oauth_clients).get(client_id)
        if client is None:
            return token_error(provider, "unknown_client", client_id=client_id)
        if not secrets.compare_digest(client["secret"], form.get("client_secret", "")):
            return token_error(provider, "wrong_secret", client_id=client_id)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self.code_grant(provider, form)
        if grant_type == "refresh_token":
            return self.refresh_grant(provider, form)
        reason = "unsupported_grant_type" if grant_type else "missing_grant_type"
        return token_error(provider, reason, grant_type=grant_type or "")

    def code_grant(self, provider, form):
        record, reason = self.server.grants.redeem_code(
            form.get("code", ""), form["client_id"], form.get("redirect_uri", "")
        )
        if reason:
            return self.grant_error(provider, reason, record, redirect_uri=form.get("redirect_uri", ""))
        self.server.counters.bump("token_authorization_code")
        return 200, self.tokens(provider, record, with_refresh=record.get("offline", True))

    def refresh_grant(self, provider, form):
        record, reason = self.server.grants.check_refresh(form.get("refresh_token", ""), form["client_id"])
        if reason:
            return self.grant_error(provider, reason, record)
        self.server.counters.bump("token_refresh")
        scope = form.get("scope") or record["scope"]
        return 200, self.tokens(provider, {**record, "scope": scope}, with_refresh=provider == "microsoft")

    def grant_error(self, provider, reason, record, redirect_uri=""):
        """An invalid_grant answer, with the dates and URIs Microsoft puts in its texts."""
        record = record or {"issued": time.time(), "login": ""}
        valid_from = grants.revocation(self.server.layout, record["login"]).get("revoked", record["issued"])
        return token_error(
            provider,
            reason,
            issued=iso_stamp(record["issued"]),
            valid_from=iso_stamp(valid_from),
            redirect_uri=redirect_uri,
            code_redirect_uri=record.get("redirect_uri", ""),
        )

    def tokens(self, provider, record, with_refresh):
        """The success body; Microsoft rotates the refresh token on every refresh, Google never does."""
        issued = self.server.grants.issue_tokens(record["login"], record["client_id"], record["scope"])
        body = {
            "token_type": "Bearer",
            "scope": record["scope"],
            "expires_in": issued["expires_in"],
            "access_token": issued["access_token"],
            "id_token": id_token(provider, record["login"], record["client_id"], issued["expires_in"]),
        }
        if provider == "microsoft":
            body["ext_expires_in"] = issued["expires_in"]
        if with_refresh:
            body["refresh_token"] = issued["refresh_token"]
        return body

    # --- introspection (Dovecot) --------------------------------------------------------------

    def introspect(self, form):
        """RFC 7662 shaped: {'active': true, 'email': login} for a live token of a user IMAP lets in.

        Dovecot 2.3 (introspection_mode = post) sends the token as the form field `token`."""
        self.server.counters.bump("introspections")
        login = self.server.grants.access_login(form.get("token", ""))
        if login is None or grants.user_flags(self.server.layout, login)["imap_disabled"]:
            self.send_json(200, {"active": False})
            return
        self.send_json(200, {"active": True, "email": login, "username": login, "token_type": "Bearer"})


def start(layout, context, grants_store, counters):
    """Bind the identity server (an OSError if the port is taken) and serve it from a daemon thread."""
    server = IdentityServer(layout, context, grants_store, counters)
    threading.Thread(target=server.serve_forever, name="identity", daemon=True).start()
    return server
