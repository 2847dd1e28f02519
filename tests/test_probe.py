"""The connection probe against real servers on 127.0.0.1: one test per diagnosis code at least."""

import imaplib
import ipaddress
import socket
import ssl
import time

import pytest
from mcl_core import probe
from mcl_core.probe import CODES, Endpoint, check_both, check_imap, check_smtp, diagnose
from probe_servers import (
    BLOCKED_RECIPIENT,
    ECHO_LOGIN,
    FOREIGN_BANNER,
    HOST,
    PASSWORD,
    REFUSED_SENDER,
    USER,
    HostileServer,
    ImapResponder,
    free_port,
    make_pki,
    start_smtp,
)

FAST = 2.0  # timeout for tests expected to fail quickly; those that wait use 1 s


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def context(pki):
    return probe.make_ssl_context(pki.ca_file)


@pytest.fixture(scope="module")
def smtp_ssl(pki):
    controller = start_smtp(pki, "ssl")
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def smtp_starttls(pki):
    controller = start_smtp(pki, "starttls")
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def imap_ssl(pki):
    server = ImapResponder(implicit_tls=pki.server_context())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def imap_starttls(pki):
    server = ImapResponder(starttls=pki.server_context())
    yield server
    server.stop()


@pytest.fixture
def hostile(request):
    server = HostileServer(request.param)
    yield server
    server.stop()


def endpoint(port, security, login=USER, password=PASSWORD, host=HOST):
    return Endpoint(host=host, port=port, security=security, login=login, password=password)


def failure(check, *args, **kwargs):
    """Run a check that must fail; return its Diagnosis."""
    side = "imap" if check is check_imap else "smtp"
    with pytest.raises(Exception) as caught:  # any failure: diagnose() classifies it
        check(*args, **kwargs)
    result = diagnose(side, caught.value, PASSWORD)
    assert result.code in CODES
    return result


def timed(function, *args, **kwargs):
    start = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - start


# --- Happy paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_smtp_passes_and_sends_nothing(security, request, context):
    controller = request.getfixturevalue(f"smtp_{security}")
    handler = controller.handler
    handler.recipients.clear()
    check_smtp(endpoint(controller.port, security), context, FAST, mail_from=USER)
    assert handler.recipients == ["noreply@odoo.com"]
    time.sleep(0.1)  # let the server notice the hang-up
    assert handler.messages == []


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_passes_read_only_with_a_quoted_password(security, request, context):
    server = request.getfixturevalue(f"imap_{security}")
    server.logins.clear()
    server.commands.clear()
    check_imap(endpoint(server.port, security), context, FAST)
    assert server.logins == [(USER, PASSWORD)]
    assert {"LIST", "EXAMINE", "LOGOUT"} <= set(server.commands)
    assert "SELECT" not in server.commands


def test_check_both_passes(smtp_ssl, imap_starttls, context):
    result = check_both(endpoint(imap_starttls.port, "starttls"), endpoint(smtp_ssl.port, "ssl"), context, FAST, USER)
    assert result == {"imap": None, "smtp": None}


# --- Credentials and provider strings -----------------------------------------------------------


def test_smtp_wrong_password_is_auth_failed_after_a_single_attempt(smtp_ssl, context):
    smtp_ssl.handler.auth_attempts.clear()
    result = failure(check_smtp, endpoint(smtp_ssl.port, "ssl", password="wrong"), context, FAST)
    assert result.code == "auth_failed"
    assert result.reply.startswith("535")
    assert smtp_ssl.handler.auth_attempts == [USER]


def test_imap_wrong_password_is_auth_failed(imap_ssl, context):
    result = failure(check_imap, endpoint(imap_ssl.port, "ssl", password="wrong"), context, FAST)
    assert result.code == "auth_failed"
    assert "AUTHENTICATIONFAILED" in result.reply


@pytest.mark.parametrize(
    ("login", "code"),
    [
        ("gmail-app@example.com", "app_password_required"),
        ("gmail-web@example.com", "web_login_required"),
        ("gmail-bad@example.com", "auth_failed"),
        ("ms-basic@example.com", "basic_auth_disabled"),
        ("ms-tenant@example.com", "smtp_auth_disabled_tenant"),
        ("ms-removed@example.com", "basic_auth_disabled"),
        ("yahoo-many@example.com", "too_many_attempts"),
        ("busy@example.com", "too_many_attempts"),
    ],
)
def test_smtp_provider_replies(login, code, smtp_starttls, context):
    result = failure(check_smtp, endpoint(smtp_starttls.port, "starttls", login=login), context, FAST)
    assert result.code == code
    assert result.reply.split()[0] in {"534", "535", "550", "421"}


@pytest.mark.parametrize(
    ("login", "code"),
    [
        ("gmail-app@example.com", "app_password_required"),
        ("gmail-off@example.com", "imap_disabled"),
        ("gmail-domain@example.com", "imap_disabled"),
        ("gmail-web@example.com", "web_login_required"),
        ("ms-basic@example.com", "basic_auth_disabled"),
        ("ms-login@example.com", "auth_failed"),
        ("yahoo-bad@example.com", "auth_failed"),
    ],
)
def test_imap_provider_replies(login, code, imap_ssl, context):
    result = failure(check_imap, endpoint(imap_ssl.port, "ssl", login=login), context, FAST)
    assert result.code == code
    assert result.reply


def test_smtp_without_tls_offers_no_auth(smtp_starttls, context):
    result = failure(check_smtp, endpoint(smtp_starttls.port, "none"), context, FAST)
    assert result.code == "no_auth"


def test_smtp_sender_refused(smtp_ssl, context):
    result = failure(check_smtp, endpoint(smtp_ssl.port, "ssl"), context, FAST, mail_from=REFUSED_SENDER)
    assert result.code == "sender_refused"
    assert result.reply.startswith("553")


def test_smtp_recipient_refused(smtp_ssl, context):
    result = failure(check_smtp, endpoint(smtp_ssl.port, "ssl"), context, FAST, USER, rcpt_to=BLOCKED_RECIPIENT)
    assert result.code == "recipient_refused"
    assert result.reply.startswith("550")


# --- Passwords never leak -----------------------------------------------------------------------


def test_password_echoed_by_the_server_is_scrubbed(imap_ssl, context):
    result = failure(check_imap, endpoint(imap_ssl.port, "ssl", login=ECHO_LOGIN), context, FAST)
    assert result.code == "auth_failed"
    assert "Too many arguments" in result.reply
    assert "***" in result.reply
    for piece in ["ohgh", "uylv", "zgbz", "xk"]:
        assert piece not in result.reply


def test_diagnose_scrubs_every_form_of_the_password():
    password = "abcd efgh"
    exc = imaplib.IMAP4.error(b"LOGIN command error: BAD [b'Too many arguments: \"abcd  efgh\" efgh ABCD']")
    result = diagnose("imap", exc, password)
    assert "abcd" not in result.reply.lower()
    assert "efgh" not in result.reply
    assert result.reply.startswith("LOGIN command error")


def test_reply_is_one_bounded_line():
    result = diagnose("smtp", probe.SmtpReplyError("data", 554, b"5.7.1 no\r\n" + b"x" * 2000), "")
    assert "\n" not in result.reply
    assert result.reply.startswith("554 5.7.1 no x")
    assert len(result.reply) == probe.REPLY_LIMIT


def test_reply_loses_control_and_bidi_characters():
    spoofed = "5.7.8 bad\u202e drowssap\u202c\u2066 ok\u2069\u200b\x07\x1b[31m red"
    result = diagnose("smtp", probe.SmtpReplyError("auth", 535, spoofed.encode()), "")
    assert result.reply == "535 5.7.8 bad drowssap ok[31m red"


def test_endpoint_repr_hides_the_password():
    assert PASSWORD not in repr(endpoint(993, "ssl"))
    assert USER in repr(endpoint(993, "ssl"))


def test_endpoint_rejects_unknown_security():
    with pytest.raises(ValueError, match="security"):
        endpoint(993, "tls")


# --- Transport ----------------------------------------------------------------------------------


def test_dns(context):
    result = failure(check_imap, endpoint(993, "ssl", host="mailbox.invalid"), context, FAST)
    assert result.code == "dns"


def test_refused(context):
    result = failure(check_smtp, endpoint(free_port(), "ssl"), context, FAST)
    assert result.code == "refused"


@pytest.mark.parametrize(("hostile", "security"), [("silent", "ssl"), ("silent", "starttls")], indirect=["hostile"])
def test_never_answering_server_times_out(hostile, security, context):
    result, elapsed = timed(failure, check_imap, endpoint(hostile.port, security), context, 1)
    assert result.code == "timeout"
    assert elapsed < 2.5


@pytest.mark.parametrize("hostile", ["greet_then_silent"], indirect=True)
def test_server_silent_after_greeting_times_out(hostile, context):
    result, elapsed = timed(failure, check_smtp, endpoint(hostile.port, "none"), context, 1)
    assert result.code == "timeout"
    assert elapsed < 2.5


@pytest.mark.parametrize("hostile", ["trickle"], indirect=True)
def test_trickling_server_is_cut_at_the_deadline(hostile, context):
    result, elapsed = timed(failure, check_smtp, endpoint(hostile.port, "none"), context, 1)
    assert result.code == "timeout"
    assert elapsed < 2.5


@pytest.mark.parametrize("hostile", ["silent"], indirect=True)
def test_check_both_runs_concurrently(hostile, context):
    silent = endpoint(hostile.port, "ssl")
    result, elapsed = timed(check_both, silent, silent, context, 2, USER)
    assert result["imap"].code == "timeout"
    assert result["smtp"].code == "timeout"
    assert result["imap"].side == "imap"
    assert elapsed < 3.5
    first, second = hostile.accepted_at
    assert second - first < 0.5  # both connected at once, not one after the other


@pytest.mark.parametrize("hostile", ["flood"], indirect=True)
@pytest.mark.parametrize("check", [check_imap, check_smtp])
def test_flood_is_protocol_error(check, hostile, context):
    result, elapsed = timed(failure, check, endpoint(hostile.port, "none"), context, FAST)
    assert result.code == "protocol_error"
    assert elapsed < FAST


@pytest.mark.parametrize("hostile", ["continuation_flood"], indirect=True)
def test_endless_continuation_lines_are_cut(hostile, context):
    result, elapsed = timed(failure, check_smtp, endpoint(hostile.port, "none"), context, FAST)
    assert result.code == "protocol_error"
    assert f"over {probe.REPLY_MAX_LINES} lines" in result.reply
    assert elapsed < FAST


@pytest.mark.parametrize("hostile", ["foreign_banner"], indirect=True)
@pytest.mark.parametrize("check", [check_imap, check_smtp])
def test_what_a_non_mail_service_says_is_not_quoted(check, hostile, context):
    result = failure(check, endpoint(hostile.port, "starttls"), context, FAST)
    assert result.code == "protocol_error"
    assert result.reply == ""
    assert FOREIGN_BANNER.decode().split()[-1] not in repr(result)


@pytest.mark.parametrize("hostile", ["greet_then_close"], indirect=True)
def test_server_closing_after_greeting(hostile, context):
    result = failure(check_smtp, endpoint(hostile.port, "none"), context, FAST)
    assert result.code == "server_closed"


@pytest.mark.parametrize("hostile", ["close_in_handshake"], indirect=True)
def test_server_closing_during_handshake(hostile, context):
    result = failure(check_imap, endpoint(hostile.port, "ssl"), context, FAST)
    assert result.code == "tls_handshake_failed"


# --- Wrong security for the port ----------------------------------------------------------------


def test_tls_on_plain_port(smtp_starttls, context):
    result, elapsed = timed(failure, check_smtp, endpoint(smtp_starttls.port, "ssl"), context, FAST)
    assert result.code == "tls_on_plain_port"
    assert elapsed < 1.0


@pytest.mark.parametrize("hostile", ["pregreet_guard"], indirect=True)
def test_tls_on_plain_port_that_hangs_up_on_early_talkers(hostile, context):
    result = failure(check_smtp, endpoint(hostile.port, "ssl"), context, FAST)
    assert result.code == "tls_on_plain_port"


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_plain_on_tls_port_smtp(security, smtp_ssl, context):
    result, elapsed = timed(failure, check_smtp, endpoint(smtp_ssl.port, security), context, FAST)
    assert result.code == "plain_on_tls_port"
    assert elapsed < FAST


def test_plain_on_tls_port_imap(imap_ssl, context):
    result = failure(check_imap, endpoint(imap_ssl.port, "starttls"), context, FAST)
    assert result.code == "plain_on_tls_port"


def test_starttls_unsupported(context):
    server = ImapResponder()
    try:
        result = failure(check_imap, endpoint(server.port, "starttls"), context, FAST)
    finally:
        server.stop()
    assert result.code == "starttls_unsupported"


# --- Certificates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("self_signed", "untrusted_certificate"),
        ("expired", "expired_certificate"),
        ("wrong_host", "hostname_mismatch"),
    ],
)
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_bad_certificates(kind, code, security, pki, context):
    tls = pki.server_context(kind)
    server = ImapResponder(implicit_tls=tls) if security == "ssl" else ImapResponder(starttls=tls)
    try:
        result = failure(check_imap, endpoint(server.port, security), context, FAST)
    finally:
        server.stop()
    assert result.code == code
    assert "certificate verify failed" in result.reply


def test_the_connection_goes_to_the_given_address_and_the_certificate_is_checked_for_the_name(imap_ssl, context):
    """No second lookup (the name does not even resolve), and the certificate must be valid for the name."""
    pinned = Endpoint("mail.does-not-resolve.invalid", imap_ssl.port, "ssl", USER, PASSWORD, address=HOST)
    assert failure(check_imap, pinned, context, FAST).code == "hostname_mismatch"
    check_imap(Endpoint("localhost", imap_ssl.port, "ssl", USER, PASSWORD, address=HOST), context, FAST)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "0x7f.1", "2130706433", "10.1.2.3", "::1", "localhost"])
def test_local_and_literal_hosts_are_not_public(host):
    with pytest.raises(probe.PrivateAddressError):
        probe.public_address(host)


@pytest.mark.parametrize(
    ("address", "public"),
    [("93.184.216.34", True), ("169.254.169.254", False), ("100.64.0.1", False), ("224.0.0.1", False),
     ("::ffff:127.0.0.1", False), ("fd00::1", False), ("2606:4700::1111", True)],
)
def test_public_addresses(address, public):
    assert probe.is_public_address(ipaddress.ip_address(address)) is public


def test_a_name_is_public_only_if_every_address_is(monkeypatch):
    answers = {"mixed.test": ["93.184.216.34", "127.0.0.1"], "public.test": ["93.184.216.34"]}
    monkeypatch.setattr(probe.socket, "getaddrinfo", lambda host, *args, **kwargs: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0)) for address in answers[host]])
    with pytest.raises(probe.PrivateAddressError, match=r"127\.0\.0\.1"):
        probe.public_address("mixed.test")
    assert probe.public_address("public.test") == "93.184.216.34"


def test_certificates_are_verified_by_default():
    context = probe.make_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
