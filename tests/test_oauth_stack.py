"""The mail stack's identity server and XOAUTH2 on its SMTP and IMAP servers (scripts/mailstack). No Odoo."""

import base64
import http.client
import imaplib
import json
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import mailstack  # noqa: E402
from mailstack import dovecot  # noqa: E402

PORT_BASE = int(os.environ.get("MAILSTACK_OAUTH_PYTEST_PORT_BASE", "31000"))
ALICE = ("alice@example.com", "alice-secret")
BOB = ("bob@example.org", "bob-secret")
CLIENT = ("odoo-client-id", "odoo-client-secret")
REDIRECT = "https://odoo.test/microsoft_outlook/confirm"
SCOPE = "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send"
MICROSOFT = "/common/oauth2/v2.0/"


@pytest.fixture(scope="module")
def stack():
    directory = Path(tempfile.mkdtemp(prefix="mailstack-oauth-"))
    directory.chmod(0o755)
    stack = mailstack.Stack(directory, PORT_BASE)
    stack.start(dict([ALICE, BOB]))
    stack.oauth_register_client(*CLIENT, REDIRECT)
    yield stack
    log = stack.layout.dovecot_log.read_text().splitlines()
    stack.stop()
    shutil.rmtree(directory)
    assert [line for line in log if dovecot.ERROR_LINE.search(line)] == [], "refused tokens are no Dovecot errors"


@pytest.fixture(autouse=True)
def reset_users(stack):
    yield
    for login in (ALICE[0], BOB[0]):
        stack.oauth_set_user(login)


def authorize_url(stack, provider="microsoft", **overrides):
    params = dict(client_id=CLIENT[0], redirect_uri=REDIRECT, response_type="code", scope=SCOPE, state="st-42")
    params.update(overrides)
    base = stack.oauth_urls()["microsoft_endpoint"] + "authorize" if provider == "microsoft" else None
    return (base or stack.oauth_urls()["google_authorize"]) + "?" + urlencode(params)


def query(url):
    return dict(parse_qsl(urlsplit(url).query))


def post(stack, path, fields=None, body=None):
    """(status, parsed JSON or text) of a form POST to the identity server."""
    connection = http.client.HTTPSConnection("localhost", stack.ports["oauth"], timeout=10, context=stack.ssl_context())
    try:
        data = body if body is not None else urlencode(fields)
        connection.request("POST", path, data, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(text) if is_json else text


def sign_in(stack, user=ALICE, provider="microsoft", **overrides):
    url = authorize_url(stack, provider, login_hint=user[0], **overrides)
    return query(stack.oauth_sign_in(url, *user))["code"]


def redeem(stack, code, path=MICROSOFT + "token", **overrides):
    fields = dict(client_id=CLIENT[0], client_secret=CLIENT[1], grant_type="authorization_code", code=code)
    return post(stack, path, {**fields, "redirect_uri": REDIRECT, **overrides})


def refresh(stack, refresh_token, path=MICROSOFT + "token"):
    fields = dict(client_id=CLIENT[0], client_secret=CLIENT[1], grant_type="refresh_token")
    return post(stack, path, {**fields, "refresh_token": refresh_token})


def tokens(stack, user=ALICE):
    status, body = redeem(stack, sign_in(stack, user))
    assert status == 200, body
    return body


def xoauth2(login, access_token):
    return f"user={login}\x01auth=Bearer {access_token}\x01\x01"


def imap_login(stack, login, access_token):
    """The IMAP server's answer to AUTHENTICATE XOAUTH2, or the IMAP4.error it raised."""
    with imaplib.IMAP4_SSL("localhost", stack.ports["imaps"], ssl_context=stack.ssl_context(), timeout=10) as imap:
        try:
            return imap.authenticate("XOAUTH2", lambda _: xoauth2(login, access_token).encode())
        except imaplib.IMAP4.error as error:
            return error


def smtp_login(stack, login, access_token, port="smtps"):
    """(code, text) of AUTH XOAUTH2 on SMTP; the client answers the error challenge with an empty line."""
    with smtplib.SMTP_SSL("localhost", stack.ports[port], context=stack.ssl_context(), timeout=10) as client:
        client.ehlo()
        answers = iter([xoauth2(login, access_token), ""])
        try:
            return client.auth("XOAUTH2", lambda challenge=None: next(answers))
        except smtplib.SMTPAuthenticationError as error:
            return error.smtp_code, error.smtp_error


def jwt_payload(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_microsoft_error(answer, status, error, code):
    assert answer[0] == status, answer
    body = answer[1]
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"]
    assert body["trace_id"] in body["error_description"]
    assert {"timestamp", "correlation_id"} <= set(body)


# --- the whole flow ---------------------------------------------------------------------------


def test_code_token_refresh_then_xoauth2_smtp_and_imap(stack):
    before = stack.oauth_stats()
    url = urlsplit(authorize_url(stack, login_hint=ALICE[0]))
    page = stack._https("GET", url.netloc, f"{url.path}?{url.query}")[2]
    for element in (
        'id="mcl-idp-login"',
        f'value="{ALICE[0]}"',
        'id="mcl-idp-password"',
        'id="mcl-idp-accept"',
        'id="mcl-idp-decline"',
        'name="decision" value="accept"',
        'name="decision" value="decline"',
    ):
        assert element in page
    location = stack.oauth_sign_in(authorize_url(stack), ALICE[0].upper(), ALICE[1])
    assert location.startswith(REDIRECT + "?")
    assert query(location)["state"] == "st-42"
    status, first = redeem(stack, query(location)["code"])
    assert status == 200, first
    assert first["token_type"] == "Bearer"
    assert first["scope"] == SCOPE
    assert first["expires_in"] == first["ext_expires_in"] == 3600
    claims = jwt_payload(first["id_token"])
    assert claims["aud"] == CLIENT[0]
    assert claims["preferred_username"] == claims["email"] == ALICE[0]
    assert {"iss", "iat", "exp", "name", "oid", "tid"} <= set(claims)

    status, second = refresh(stack, first["refresh_token"])
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    assert refresh(stack, first["refresh_token"])[0] == 200, "the previous refresh token stays valid"

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ALICE[0], BOB[0], f"xoauth2 {uuid.uuid4()}"
    msg.set_content("Envoyé avec un jeton OAuth.")
    with smtplib.SMTP_SSL("localhost", stack.ports["smtps"], context=stack.ssl_context(), timeout=10) as client:
        client.ehlo()
        assert "XOAUTH2" in client.esmtp_features["auth"].split()
        assert client.auth("XOAUTH2", lambda challenge=None: xoauth2(ALICE[0], second["access_token"]))[0] == 235
        assert client.send_message(msg) == {}
    assert msg["Subject"] in [m["Subject"] for m in stack.fetch_messages(*BOB)]
    assert imap_login(stack, ALICE[0], second["access_token"])[0] == "OK"

    after = stack.oauth_stats()
    for name, more in (
        ("authorize_accepted", 1),
        ("token_authorization_code", 1),
        ("token_refresh", 2),
        ("xoauth2_smtp_ok", 1),
        ("introspections", 1),
    ):
        assert after[name] == before[name] + more, name


def test_starttls_submission_offers_xoauth2_and_google_paths_work(stack):
    code = sign_in(stack, provider="google", access_type="offline", prompt="consent")
    status, body = redeem(stack, code, path="/google/token")
    assert status == 200, body
    assert "ext_expires_in" not in body
    assert refresh(stack, body["refresh_token"], path="/google/token")[1].get("refresh_token") is None
    with smtplib.SMTP("localhost", stack.ports["submission"], timeout=10) as client:
        client.starttls(context=stack.ssl_context())
        client.ehlo()
        assert client.auth("XOAUTH2", lambda challenge=None: xoauth2(ALICE[0], body["access_token"]))[0] == 235


def test_google_gives_a_refresh_token_only_to_an_offline_request(stack):
    status, body = redeem(stack, sign_in(stack, provider="google"), path="/google/token")
    assert status == 200, body
    assert body["access_token"]
    assert "refresh_token" not in body


# --- authorize errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "text"),
    [({"client_id": "nobody"}, "AADSTS700016"), ({"redirect_uri": "https://evil.test/cb"}, "AADSTS50011")],
)
def test_unknown_client_or_redirect_uri_shows_an_error_page_without_redirect(stack, overrides, text):
    with pytest.raises(mailstack.StackError, match=text):
        stack.oauth_sign_in(authorize_url(stack, **overrides), *ALICE)
    status, page = post(
        stack, MICROSOFT + "authorize", {**query(authorize_url(stack, **overrides)), "decision": "accept"}
    )
    assert status == 400
    assert text in page


def test_wrong_password_shows_the_form_again(stack):
    with pytest.raises(mailstack.StackError, match="Your account or password is incorrect"):
        stack.oauth_sign_in(authorize_url(stack), ALICE[0], "not-the-password")


def test_decline_redirects_with_access_denied(stack):
    before = stack.oauth_stats()["authorize_declined"]
    answer = query(stack.oauth_sign_in(authorize_url(stack), "", "", decision="decline"))
    assert answer["error"] == "access_denied"
    assert answer["error_description"] == "AADSTS65004: User declined to consent to access the app."
    assert answer["state"] == "st-42"
    assert stack.oauth_stats()["authorize_declined"] == before + 1
    google = query(stack.oauth_sign_in(authorize_url(stack, "google"), "", "", decision="decline"))
    assert google == {"error": "access_denied", "state": "st-42"}


@pytest.mark.parametrize(
    ("flag", "error", "code"),
    [
        ("consent_refused", "access_denied", "AADSTS65004"),
        ("admin_consent_required", "access_denied", "AADSTS90094"),
        ("user_not_assigned", "access_denied", "AADSTS50105"),
    ],
)
def test_authorize_error_flags(stack, flag, error, code):
    stack.oauth_set_user(ALICE[0], authorize_error=flag)
    answer = query(stack.oauth_sign_in(authorize_url(stack), *ALICE))
    assert answer["error"] == error
    assert answer["error_description"].startswith(code + ": ")
    assert "code" not in answer
    stack.oauth_set_user(ALICE[0])
    assert "code" in query(stack.oauth_sign_in(authorize_url(stack), *ALICE))


def test_unknown_flags_are_refused(stack):
    with pytest.raises(ValueError, match="unknown OAuth user flags"):
        stack.oauth_set_user(ALICE[0], imap_disable=True)
    with pytest.raises(ValueError, match="authorize_error"):
        stack.oauth_set_user(ALICE[0], authorize_error="nope")


# --- token errors -----------------------------------------------------------------------------


def test_a_code_is_single_use(stack):
    code = sign_in(stack)
    assert redeem(stack, code)[0] == 200
    assert_microsoft_error(redeem(stack, code), 400, "invalid_grant", 54005)
    assert "already redeemed" in redeem(stack, code)[1]["error_description"]


def test_code_needs_the_same_redirect_uri_and_a_known_code(stack):
    stack.oauth_register_client(CLIENT[0], CLIENT[1], "https://odoo.test/other")
    code = sign_in(stack)
    mismatch = redeem(stack, code, redirect_uri="https://odoo.test/other")
    assert_microsoft_error(mismatch, 400, "invalid_grant", 50011)
    assert (
        f"'https://odoo.test/other' does not match the reply address '{REDIRECT}'" in mismatch[1]["error_description"]
    )
    assert redeem(stack, code)[0] == 200, "a mismatch does not use the code up"
    assert_microsoft_error(redeem(stack, "code.forged"), 400, "invalid_grant", 70008)


def test_wrong_client_secret_or_unknown_client(stack):
    before = stack.oauth_stats()["token_errors"]
    code = sign_in(stack)
    assert_microsoft_error(redeem(stack, code, client_secret="wrong"), 401, "invalid_client", 7000215)
    assert_microsoft_error(redeem(stack, code, client_id="nobody"), 400, "unauthorized_client", 700016)
    assert redeem(stack, code, path="/google/token", client_secret="wrong") == (
        401,
        {"error": "invalid_client", "error_description": "Unauthorized"},
    )
    assert stack.oauth_stats()["token_errors"] == before + 3
    assert redeem(stack, code)[0] == 200


def test_missing_or_unsupported_grant_type(stack):
    fields = dict(client_id=CLIENT[0], client_secret=CLIENT[1])
    assert_microsoft_error(post(stack, MICROSOFT + "token", fields), 400, "invalid_request", 900144)
    answer = post(stack, MICROSOFT + "token", {**fields, "grant_type": "password"})
    assert_microsoft_error(answer, 400, "unsupported_grant_type", 70003)
    assert "'password'" in answer[1]["error_description"]


def test_oversized_body_is_refused(stack):
    status, _ = post(stack, MICROSOFT + "token", body="a=" + "x" * (64 * 1024))
    assert status == 413


# --- revocation, expiry, flags, other user's token ---------------------------------------------


def test_revoke_kills_refresh_and_access_tokens(stack):
    first = tokens(stack, BOB)
    stack.oauth_revoke(BOB[0])
    assert_microsoft_error(refresh(stack, first["refresh_token"]), 400, "invalid_grant", 50173)
    assert refresh(stack, first["refresh_token"], path="/google/token") == (
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    assert isinstance(imap_login(stack, BOB[0], first["access_token"]), imaplib.IMAP4.error)
    before = stack.oauth_stats()["xoauth2_smtp_refused"]
    code, text = smtp_login(stack, BOB[0], first["access_token"])
    assert (code, text) == (535, b"5.7.3 Authentication unsuccessful")
    assert stack.oauth_stats()["xoauth2_smtp_refused"] == before + 1
    fresh = tokens(stack, BOB)
    assert imap_login(stack, BOB[0], fresh["access_token"])[0] == "OK", "a new sign-in works again"


def test_expired_access_tokens_are_refused_and_refresh_still_works(stack):
    first = tokens(stack, BOB)
    stack.oauth_expire_access_tokens(BOB[0])
    assert isinstance(imap_login(stack, BOB[0], first["access_token"]), imaplib.IMAP4.error)
    assert smtp_login(stack, BOB[0], first["access_token"])[0] == 535
    status, second = refresh(stack, first["refresh_token"])
    assert status == 200
    assert imap_login(stack, BOB[0], second["access_token"])[0] == "OK"
    assert smtp_login(stack, BOB[0], second["access_token"])[0] == 235


def test_short_lifetimes(stack):
    stack.oauth_set_user(BOB[0], access_lifetime=0, refresh_lifetime=0)
    first = tokens(stack, BOB)
    assert first["expires_in"] == 0
    assert smtp_login(stack, BOB[0], first["access_token"])[0] == 535
    assert_microsoft_error(refresh(stack, first["refresh_token"]), 400, "invalid_grant", 700082)


def test_smtp_auth_disabled_and_imap_disabled(stack):
    access = tokens(stack, BOB)["access_token"]
    stack.oauth_set_user(BOB[0], smtp_auth_disabled=True)
    assert smtp_login(stack, BOB[0], access) == (
        535,
        b"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
        b"Visit https://aka.ms/smtp_auth_disabled for more information.",
    )
    assert imap_login(stack, BOB[0], access)[0] == "OK"
    stack.oauth_set_user(BOB[0], imap_disabled=True)
    assert isinstance(imap_login(stack, BOB[0], access), imaplib.IMAP4.error)
    assert smtp_login(stack, BOB[0], access)[0] == 235


def test_another_users_token_is_refused(stack):
    access = tokens(stack, ALICE)["access_token"]
    assert smtp_login(stack, BOB[0], access)[0] == 535
    assert isinstance(imap_login(stack, BOB[0], access), imaplib.IMAP4.error)
    assert smtp_login(stack, ALICE[0].upper(), access)[0] == 235, "the login is compared case-insensitively"


def test_password_logins_and_canned_replies_still_work(stack):
    stack.set_smtp_reply(BOB[0], "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.")
    try:
        with smtplib.SMTP_SSL("localhost", stack.ports["smtps"], context=stack.ssl_context(), timeout=10) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError, match="basic authentication is disabled"):
                client.login(*BOB)
    finally:
        stack.clear_replies()
    with smtplib.SMTP_SSL("localhost", stack.ports["smtps"], context=stack.ssl_context(), timeout=10) as client:
        assert client.login(*ALICE)[0] == 235


def test_xoauth2_after_an_empty_challenge_and_oauthbearer_on_imap(stack):
    access = tokens(stack, BOB)["access_token"]
    with smtplib.SMTP_SSL("localhost", stack.ports["smtps"], context=stack.ssl_context(), timeout=10) as client:
        client.ehlo()
        answer = client.auth("XOAUTH2", lambda challenge=None: xoauth2(BOB[0], access), initial_response_ok=False)
        assert answer[0] == 235
    with imaplib.IMAP4_SSL("localhost", stack.ports["imaps"], ssl_context=stack.ssl_context(), timeout=10) as imap:
        bearer = f"n,a={BOB[0]},\x01auth=Bearer {access}\x01\x01".encode()
        assert imap.authenticate("OAUTHBEARER", lambda _: bearer)[0] == "OK"


def test_cli_registers_clients_and_prints_urls(stack):
    def cli(*args):
        command = [sys.executable, str(REPO / "scripts" / "mailstack"), *args, "--dir", str(stack.dir)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout

    cli("oauth-client", "cli-client", "cli-secret", "https://cli.test/cb")
    urls = dict(line.split("=", 1) for line in cli("oauth-urls").splitlines())
    assert urls == stack.oauth_urls()
    params = dict(client_id="cli-client", redirect_uri="https://cli.test/cb", response_type="code", state="s")
    location = stack.oauth_sign_in(urls["google_authorize"] + "?" + urlencode(params), *ALICE)
    assert location.startswith("https://cli.test/cb?code=")


def test_env_and_urls_name_the_oauth_port(stack):
    port = PORT_BASE + 443
    assert stack.env()["MAILSTACK_OAUTH_PORT"] == str(port)
    assert stack.oauth_urls() == {
        "microsoft_endpoint": f"https://localhost:{port}/common/oauth2/v2.0/",
        "google_authorize": f"https://localhost:{port}/google/auth",
        "google_token": f"https://localhost:{port}/google/token",
    }
