"""OAuth 2.0 sign-in of a mailbox at Microsoft or Google, for IMAP and SMTP with XOAUTH2.

Standard library only. Token requests go over verified TLS to an https:// URL, each bounded
in time (a watchdog, as for the mail connections) and in size; their errors become
:class:`OAuthError`, whose :func:`classify` code says what the user can do about it.
"""

import base64
import binascii
import http.client
import json
import re
import time
import urllib.parse
from dataclasses import dataclass

from . import probe

RESPONSE_MAX_BYTES = 64 * 1024
REFRESH_MARGIN = 300  # an access token closer than this to its expiry is refreshed first
DEFAULT_LIFETIME = 3600  # RFC 6749 5.1: expires_in is only recommended
MAX_LIFETIME = 86400
TOKEN_KIND = "mcl_mailbox.oauth"  # noqa: S105 (a marker, not a password)
# An account as a diagnosis may show it: one address, no spaces, line breaks or bidi controls.
_ADDRESS = re.compile(r"[^\s@\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]{1,64}@[^\s@\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]{1,255}")
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,16384}")  # RFC 6750 2.1 b64token, and nothing a SASL line could split on

CODES = (
    "oauth_consent_refused",
    "oauth_admin_required",
    "oauth_grant_refused",
    "oauth_app_refused",
    "oauth_wrong_account",
    "oauth_unavailable",
    "oauth_unknown",
)


@dataclass(frozen=True)
class Service:
    """An identity provider: its scopes and the extra authorize parameters it needs."""

    code: str
    scopes: tuple
    authorize_extra: tuple = ()


SERVICES = {
    "microsoft": Service(
        "microsoft",
        ("offline_access", "openid", "email", "https://outlook.office.com/IMAP.AccessAsUser.All",
         "https://outlook.office.com/SMTP.Send"),
        # select_account: a Microsoft session open in the browser (a shared computer) is not used unasked.
        (("response_mode", "query"), ("prompt", "select_account")),
    ),
    # access_type and prompt: Google issues a refresh token only with both.
    "google": Service("google", ("openid", "email", "https://mail.google.com/"),
                      (("access_type", "offline"), ("prompt", "consent"))),
}

# Provider error texts, most specific first: AADSTS codes (learn.microsoft.com/entra/identity-platform/
# reference-error-codes) and OAuth 2.0 error names (RFC 6749 4.1.2.1, 5.2).
_RULES = (
    ("oauth_consent_refused", r"AADSTS65004\b"),
    ("oauth_admin_required", r"AADSTS(?:90094|90095|65001|50105|53003|50020|530032)\b|admin_policy_enforced"
                             r"|org_internal|consent_required"),
    ("oauth_app_refused", r"AADSTS(?:700016|50011|7000215|7000222|700054)\b|invalid_client|unauthorized_client"
                          r"|redirect_uri_mismatch|invalid_scope"),
    ("oauth_grant_refused", r"invalid_grant|AADSTS(?:50173|700082|70008|70000|54005|50076|50079)\b"),
    ("oauth_consent_refused", r"access_denied"),
)


class OAuthError(Exception):
    """The identity provider refused, or could not be reached; ``code`` is one of CODES, ``params`` what
    its explanation names (the wrong account's ``account`` and ``email``)."""

    def __init__(self, code, reply, **params):
        super().__init__(reply)
        self.code = code
        self.reply = reply
        self.params = params

    @property
    def passing(self):
        """Whether it should go away by itself (the provider is down or slow)."""
        return self.code == "oauth_unavailable"


@dataclass(frozen=True)
class Tokens:
    """What a sign-in gives: the tokens, when the access token expires, the signed-in account, and
    the token URL they were issued by (the only one the refresh token is sent to)."""

    access_token: str
    refresh_token: str
    expires_at: int
    account: str
    token_url: str

    def to_json(self):
        return json.dumps({"kind": TOKEN_KIND, "access_token": self.access_token, "refresh_token": self.refresh_token,
                           "expires_at": self.expires_at, "account": self.account, "token_url": self.token_url})

    @classmethod
    def from_json(cls, text):
        """The tokens :meth:`to_json` wrote; anything else (a password, a damaged value) is refused."""
        try:
            data = json.loads(text)
            if data.get("kind") != TOKEN_KIND:
                raise ValueError("not tokens")
            tokens = cls(data["access_token"], data["refresh_token"], int(data["expires_at"]), data["account"],
                         data["token_url"])
        except (AttributeError, KeyError, TypeError, ValueError):
            raise OAuthError("oauth_grant_refused", "") from None
        if not all(isinstance(value, str) for value in (tokens.account, tokens.token_url)) \
                or not all(map(_is_token, (tokens.access_token, tokens.refresh_token))):
            raise OAuthError("oauth_grant_refused", "")
        return tokens

    def needs_refresh(self, now=None):
        return (now or time.time()) >= self.expires_at - REFRESH_MARGIN


def classify(text):
    """The CODES entry for a provider's error text (error name and description)."""
    return next((code for code, rule in _RULES if re.search(rule, text or "", re.IGNORECASE)), "oauth_unknown")


def authorization_url(service, authorize_url, client_id, redirect_uri, state, login_hint):
    """Where the browser signs in and consents."""
    params = [("client_id", client_id), ("response_type", "code"), ("redirect_uri", redirect_uri),
              ("scope", " ".join(SERVICES[service].scopes)), ("state", state), ("login_hint", login_hint),
              *SERVICES[service].authorize_extra]
    return f"{authorize_url}?{urllib.parse.urlencode(params)}"


def authorize_error(error, description):
    """The OAuthError of an authorize redirect carrying ``error`` (the user declined, the organisation
    forbids the app...)."""
    reply = " ".join(part for part in (error, description) if part)
    return OAuthError(classify(reply), _scrubbed(reply, [""]))


def redeem_code(service, token_url, client, code, redirect_uri, ssl_context, timeout):
    """Tokens for an authorization ``code``; ``client`` is (client_id, client_secret)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return _tokens(service, token_url, client, form, ssl_context, timeout, previous=None)


def refresh(service, tokens, client, ssl_context, timeout):
    """New tokens from ``tokens``' refresh token, at the token URL that issued them."""
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    return _tokens(service, tokens.token_url, client, form, ssl_context, timeout, previous=tokens)


def xoauth2(login, access_token):
    """The SASL XOAUTH2 initial response (not base64-encoded)."""
    return f"user={login}\x01auth=Bearer {access_token}\x01\x01"


def _tokens(service, token_url, client, form, ssl_context, timeout, previous):
    client_id, client_secret = client
    form = dict(form, client_id=client_id, client_secret=client_secret, scope=" ".join(SERVICES[service].scopes))
    secrets = [client_secret, form.get("code", ""), form.get("refresh_token", "")]
    status, body = _post(token_url, form, ssl_context, timeout)
    data = _json(body)
    if status != 200 or not data.get("access_token"):
        raise _token_error(status, data, body, secrets)
    refresh_token = data.get("refresh_token") or (previous and previous.refresh_token)
    if not refresh_token:
        raise OAuthError("oauth_unknown", "the provider issued no refresh token")
    if not (_is_token(data["access_token"]) and _is_token(refresh_token)):
        raise OAuthError("oauth_unknown", "the provider issued a token that is not a token")
    account = _account(data.get("id_token"))
    if previous and account and account != previous.account:
        raise OAuthError("oauth_wrong_account", "", account=account, email=previous.account)
    return Tokens(data["access_token"], refresh_token, int(time.time()) + _lifetime(data.get("expires_in")),
                  account or (previous and previous.account) or "", token_url)


def _is_token(value):
    return isinstance(value, str) and bool(_TOKEN_TEXT.fullmatch(value))


def _lifetime(expires_in):
    """Seconds the access token lasts, per ``expires_in`` (a number, or its text), within 0..MAX_LIFETIME."""
    if expires_in is None or expires_in == "":
        return DEFAULT_LIFETIME
    try:
        seconds = int(expires_in)
    except (TypeError, ValueError, OverflowError):
        raise OAuthError("oauth_unknown", f"the provider gave a lifetime that is not a number: {expires_in!r:.40}") \
            from None
    return max(0, min(seconds, MAX_LIFETIME))


def _token_error(status, data, body, secrets):
    if status >= 500 or status == 429:
        code = "oauth_unavailable"
    else:
        code = classify(f"{data.get('error', '')} {data.get('error_description', '')}")
    reply = " ".join(str(data.get(key) or "") for key in ("error", "error_description")).strip()
    reply = reply or f"HTTP {status} {body[:200].decode('utf-8', 'replace')}"
    return OAuthError(code, _scrubbed(reply, secrets))


def _post(url, form, ssl_context, timeout):
    """POST ``form`` to ``url`` (https only) within ``timeout`` in all; (status, body up to the cap)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise OAuthError("oauth_app_refused", f"the token URL is not an https:// URL: {url}")
    body = urllib.parse.urlencode(form).encode()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        with probe.Watchdog(timeout) as watchdog:
            connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                                     context=ssl_context)
            try:
                connection.connect()
                watchdog.guard(connection.sock)
                connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                        "Accept": "application/json"})
                response = connection.getresponse()
                content = response.read(RESPONSE_MAX_BYTES + 1)
            finally:
                connection.close()
    except (OSError, http.client.HTTPException) as error:
        raise OAuthError("oauth_unavailable", f"{parts.hostname}: {error}") from None
    if len(content) > RESPONSE_MAX_BYTES:
        raise OAuthError("oauth_unavailable", f"{parts.hostname}: answer over {RESPONSE_MAX_BYTES} bytes")
    return response.status, content


def _json(body):
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _account(id_token):
    """The signed-in address an ID token names (got straight from the token endpoint over TLS, so read
    without checking its signature, as OpenID Connect Core 3.1.3.7 allows)."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError, binascii.Error):
        return ""
    if not isinstance(claims, dict):
        return ""
    address = claims.get("email") or claims.get("preferred_username") or ""
    address = address.strip().lower() if isinstance(address, str) else ""
    return address if _ADDRESS.fullmatch(address) else ""


def _scrubbed(text, secrets):
    """One printable line of at most probe.REPLY_LIMIT characters, every secret masked."""
    for secret in secrets:
        text = probe._sanitize(text, secret)
    return text
