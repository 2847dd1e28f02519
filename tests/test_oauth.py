"""The OAuth client of the core: what it asks for, what it keeps, how it fails (no Odoo needed)."""

import base64
import http.server
import json
import threading
import time
import urllib.parse

import pytest
from mcl_core import oauth, probe
from probe_servers import HOST, make_pki

SECRET = "mcltestsecret"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("oauth-pki"))


@pytest.fixture(scope="module")
def client_context(pki):
    return probe.make_ssl_context(str(pki.ca_file))


def id_token(claims):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


class TokenServer:
    """An HTTPS token endpoint answering each POST with the next canned (status, body, delay)."""

    def __init__(self, pki, kind="good"):
        self.answers, self.requests = [], []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
                status, body, delay = server.answers.pop(0)
                time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.socket = pki.server_context(kind).wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"https://localhost:{self.httpd.server_address[1]}/common/oauth2/v2.0/token"

    def answer(self, status, body, delay=0.0):
        self.answers.append((status, body, delay))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_server(pki):
    server = TokenServer(pki)
    yield server
    server.close()


def granted(account="dr.martin@outlook.fr", refresh=f"{SECRET}-refresh"):
    return {"token_type": "Bearer", "expires_in": 3599, "access_token": f"{SECRET}-access",
            "refresh_token": refresh, "id_token": id_token({"preferred_username": account.upper()})}


def test_the_authorization_url_asks_for_imap_smtp_and_a_refresh_token_for_the_address():
    url = oauth.authorization_url("microsoft", "https://login.example/common/oauth2/v2.0/authorize", "app",
                                  "https://odoo.example/mcl_mailbox/oauth/callback", "7.nonce", "dr@outlook.fr")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["scope"][0].split() == ["offline_access", "openid", "email",
                                         "https://outlook.office.com/IMAP.AccessAsUser.All",
                                         "https://outlook.office.com/SMTP.Send"]
    assert (query["login_hint"], query["state"], query["response_type"]) == (["dr@outlook.fr"], ["7.nonce"], ["code"])
    assert query["prompt"] == ["select_account"], "a Microsoft session open in a shared browser is not used unasked"
    google = urllib.parse.parse_qs(urllib.parse.urlsplit(oauth.authorization_url(
        "google", "https://accounts.example/auth", "app", "https://odoo.example/cb", "s", "dr@gmail.com")).query)
    assert (google["access_type"], google["prompt"]) == (["offline"], ["consent"])


def test_a_code_is_redeemed_for_tokens_of_the_signed_in_account(token_server, client_context):
    token_server.answer(200, granted())
    tokens = oauth.redeem_code("microsoft", token_server.url, ("app", f"{SECRET}-client"), f"{SECRET}-code",
                               "https://odoo.example/cb", client_context, 5)
    assert (tokens.access_token, tokens.refresh_token, tokens.account) == (
        f"{SECRET}-access", f"{SECRET}-refresh", "dr.martin@outlook.fr")
    assert tokens.token_url == token_server.url
    assert 3500 < tokens.expires_at - time.time() <= 3600
    [sent] = token_server.requests
    assert (sent["grant_type"], sent["code"], sent["client_secret"]) == (
        ["authorization_code"], [f"{SECRET}-code"], [f"{SECRET}-client"])
    assert oauth.Tokens.from_json(tokens.to_json()) == tokens


def test_a_refresh_keeps_the_account_and_the_refresh_token_when_none_is_returned(token_server, client_context):
    previous = oauth.Tokens("old", f"{SECRET}-refresh", 0, "dr@outlook.fr", token_server.url)
    token_server.answer(200, {"access_token": "new", "expires_in": 60})
    tokens = oauth.refresh("google", previous, ("app", "secret"), client_context, 5)
    assert (tokens.access_token, tokens.refresh_token, tokens.account) == ("new", f"{SECRET}-refresh", "dr@outlook.fr")
    assert tokens.needs_refresh(), "60 s left: within the refresh margin"
    assert token_server.requests[0]["refresh_token"] == [f"{SECRET}-refresh"]


@pytest.mark.parametrize(("status", "body", "code"), [
    (400, {"error": "invalid_grant", "error_description": "AADSTS50173: The provided grant has expired due to it "
                                                          "being revoked."}, "oauth_grant_refused"),
    (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
     "oauth_grant_refused"),
    (401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
     "oauth_app_refused"),
    (400, {"error": "invalid_grant", "error_description": "AADSTS65001: The user or administrator has not "
                                                          "consented to use the application."},
     "oauth_admin_required"),
    (503, b"<html>Service unavailable</html>", "oauth_unavailable"),
    (429, {"error": "temporarily_unavailable"}, "oauth_unavailable"),
])
def test_token_errors_are_classified_by_what_the_user_can_do(token_server, client_context, status, body, code):
    token_server.answer(status, body)
    previous = oauth.Tokens("old", f"{SECRET}-refresh", 0, "dr@outlook.fr", token_server.url)
    with pytest.raises(oauth.OAuthError) as refused:
        oauth.refresh("microsoft", previous, ("app", f"{SECRET}-client"), client_context, 5)
    assert refused.value.code == code
    assert refused.value.passing == (code == "oauth_unavailable")
    assert SECRET not in refused.value.reply


def test_an_error_echoing_the_secrets_is_scrubbed(token_server, client_context):
    token_server.answer(400, {"error": "invalid_grant",
                              "error_description": f"bad refresh token {SECRET}-refresh for {SECRET}-client"})
    previous = oauth.Tokens("old", f"{SECRET}-refresh", 0, "dr@outlook.fr", token_server.url)
    with pytest.raises(oauth.OAuthError) as refused:
        oauth.refresh("microsoft", previous, ("app", f"{SECRET}-client"), client_context, 5)
    assert SECRET not in refused.value.reply
    assert "bad refresh token" in refused.value.reply


def test_tokens_go_only_over_verified_https(pki, client_context):
    with pytest.raises(oauth.OAuthError, match="not an https:// URL"):
        oauth.refresh("microsoft", oauth.Tokens("a", "r", 0, "x", "http://localhost/token"), ("app", "s"),
                      client_context, 5)
    untrusted = TokenServer(pki, kind="self_signed")
    try:
        untrusted.answer(200, granted())
        with pytest.raises(oauth.OAuthError) as refused:
            oauth.refresh("microsoft", oauth.Tokens("a", "r", 0, "x", untrusted.url), ("app", "s"), client_context, 5)
        assert refused.value.code == "oauth_unavailable"
        assert "CERTIFICATE_VERIFY_FAILED" in refused.value.reply
        assert untrusted.requests == [], "nothing was sent to a server whose certificate is not trusted"
    finally:
        untrusted.answers.clear()
        untrusted.close()


def test_a_slow_or_huge_answer_is_cut(token_server, client_context):
    previous = oauth.Tokens("old", "r", 0, "dr@outlook.fr", token_server.url)
    token_server.answer(200, granted(), delay=3)
    started = time.monotonic()
    with pytest.raises(oauth.OAuthError) as refused:
        oauth.refresh("microsoft", previous, ("app", "s"), client_context, 1)
    assert refused.value.code == "oauth_unavailable"
    assert time.monotonic() - started < 2.5
    token_server.answer(200, b"x" * (oauth.RESPONSE_MAX_BYTES + 10))
    with pytest.raises(oauth.OAuthError, match="answer over"):
        oauth.refresh("microsoft", previous, ("app", "s"), client_context, 5)


@pytest.mark.parametrize(("text", "code"), [
    ("access_denied AADSTS65004: User declined to consent to access the app.", "oauth_consent_refused"),
    ("access_denied AADSTS90094: An administrator of Contoso has set a policy", "oauth_admin_required"),
    ("access_denied AADSTS50105: Your administrator has configured the application to block users",
     "oauth_admin_required"),
    ("access_denied", "oauth_consent_refused"),
    ("admin_policy_enforced", "oauth_admin_required"),
    ("server_error something", "oauth_unknown"),
])
def test_authorize_errors_are_classified(text, code):
    error, _space, description = text.partition(" ")
    assert oauth.authorize_error(error, description).code == code


def test_an_id_token_without_an_address_gives_no_account():
    assert oauth._account(id_token({"sub": "123"})) == ""
    assert oauth._account("not-a-jwt") == ""
    assert oauth._account(None) == ""
    assert oauth._account(id_token({"email": " Dr@Gmail.com "})) == "dr@gmail.com"


@pytest.mark.parametrize("claimed", ["dr@outlook.fr\nWhat to do: call 0800", "dr @outlook.fr", "dr@out\u202elook.fr",
                                     "no-at-sign", "a" * 65 + "@outlook.fr"])
def test_an_id_token_naming_no_plain_address_gives_no_account(claimed):
    assert oauth._account(id_token({"email": claimed})) == ""


def test_the_xoauth2_string_is_the_documented_one():
    assert oauth.xoauth2("dr@outlook.fr", "tok") == "user=dr@outlook.fr\x01auth=Bearer tok\x01\x01"


def test_a_refresh_for_another_account_is_refused(token_server, client_context):
    previous = oauth.Tokens("old", f"{SECRET}-refresh", 0, "dr@outlook.fr", token_server.url)
    token_server.answer(200, granted(account="someone.else@outlook.fr"))
    with pytest.raises(oauth.OAuthError) as refused:
        oauth.refresh("microsoft", previous, ("app", "secret"), client_context, 5)
    assert refused.value.code == "oauth_wrong_account"
    assert refused.value.params == {"account": "someone.else@outlook.fr", "email": "dr@outlook.fr"}


@pytest.mark.parametrize(("expires_in", "lifetime"), [
    (3599, 3599), ("3599", 3599), (0, 0), (-50, 0), (10**9, oauth.MAX_LIFETIME), (None, oauth.DEFAULT_LIFETIME),
])
def test_the_access_token_lifetime_is_read_within_bounds(token_server, client_context, expires_in, lifetime):
    previous = oauth.Tokens("old", f"{SECRET}-refresh", 0, "dr@outlook.fr", token_server.url)
    answer = {"access_token": "new"} if expires_in is None else {"access_token": "new", "expires_in": expires_in}
    token_server.answer(200, answer)
    tokens = oauth.refresh("microsoft", previous, ("app", "secret"), client_context, 5)
    assert abs(tokens.expires_at - time.time() - lifetime) <= 2


@pytest.mark.parametrize("answer", [
    {"access_token": "new", "expires_in": "soon"},
    {"access_token": "new", "expires_in": float("inf")},
    {"access_token": "new\x01auth=Bearer x", "expires_in": 60},
    {"access_token": ["new"], "expires_in": 60},
    {"access_token": "new", "refresh_token": "line\r\nbreak", "expires_in": 60},
])
def test_an_odd_token_answer_is_an_explained_error(token_server, client_context, answer):
    previous = oauth.Tokens("old", f"{SECRET}-refresh", 0, "dr@outlook.fr", token_server.url)
    token_server.answer(200, answer)
    with pytest.raises(oauth.OAuthError) as refused:
        oauth.refresh("microsoft", previous, ("app", "secret"), client_context, 5)
    assert refused.value.code == "oauth_unknown"


@pytest.mark.parametrize("stored", [
    "abcdefghijklmnop",
    json.dumps({"access_token": "a", "refresh_token": "r", "expires_at": 0, "account": "x@outlook.fr",
                "token_url": "https://attacker.invalid/token"}),
    json.dumps({"kind": oauth.TOKEN_KIND, "access_token": "a"}),
    json.dumps({"kind": oauth.TOKEN_KIND, "access_token": "a b", "refresh_token": "r", "expires_at": 0,
                "account": "x@outlook.fr", "token_url": "https://login.example/token"}),
])
def test_only_stored_tokens_are_read_as_tokens(stored):
    with pytest.raises(oauth.OAuthError) as refused:
        oauth.Tokens.from_json(stored)
    assert refused.value.code == "oauth_grant_refused"
