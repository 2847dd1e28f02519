"""The local mail stack (scripts/mailstack): real Dovecot, real aiosmtpd, verified TLS. No Odoo."""

import imaplib
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import mailstack  # noqa: E402
from mailstack import dovecot, owned, procs  # noqa: E402

PORT_BASE = int(os.environ.get("MAILSTACK_PYTEST_PORT_BASE", "30000"))
SPARE_BASE = PORT_BASE + 1000
ALICE = ("alice@example.com", "alice-secret")
BOB = ("bob@example.org", "bob-secret")
APP_PASSWORD_SMTP = (
    "534-5.7.9 Application-specific password required. Learn more at\n"
    "534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor"
)
BASIC_AUTH_DISABLED = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
APP_PASSWORD_IMAP = (
    "NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"
)


def run_dir():
    """A run directory Dovecot's unprivileged users can walk into (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="mailstack-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def stack():
    directory = run_dir()
    stack = mailstack.Stack(directory, PORT_BASE)
    stack.start(dict([ALICE, BOB]))
    yield stack
    stack.stop()
    shutil.rmtree(directory)


@pytest.fixture
def spare_dir():
    directory = run_dir()
    yield directory
    mailstack.Stack(directory, SPARE_BASE).stop()
    shutil.rmtree(directory)


def cli(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "mailstack"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def smtps(stack):
    return smtplib.SMTP_SSL("localhost", stack.ports["smtps"], context=stack.ssl_context(), timeout=10)


def submission(stack):
    client = smtplib.SMTP("localhost", stack.ports["submission"], timeout=10)
    client.starttls(context=stack.ssl_context())
    return client


def imaps(stack, port_name="imaps"):
    return imaplib.IMAP4_SSL("localhost", stack.ports[port_name], ssl_context=stack.ssl_context(), timeout=10)


def message(sender, recipient):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, f"mailstack test {uuid.uuid4()}"
    msg.set_content("Bonjour, voici votre facture.")
    return msg


def subjects(stack, user, folder="INBOX"):
    return [msg["Subject"] for msg in stack.fetch_messages(*user, folder=folder)]


@pytest.mark.parametrize("connect", [smtps, submission], ids=["smtps", "starttls"])
def test_sent_message_is_read_back_over_imaps(stack, connect):
    msg = message(ALICE[0], BOB[0])
    with connect(stack) as client:
        client.login(*ALICE)
        assert client.send_message(msg) == {}
    assert msg["Subject"] in subjects(stack, BOB)
    assert msg["Subject"] not in subjects(stack, ALICE)


def test_mail_for_outside_addresses_lands_in_relay(stack):
    msg = message(ALICE[0], "noreply@odoo.com")
    with smtps(stack) as client:
        client.login(*ALICE)
        assert client.send_message(msg) == {}
    relayed = [m for m in stack.relayed_messages() if m["Subject"] == msg["Subject"]]
    assert len(relayed) == 1
    assert relayed[0]["X-Mailstack-Rcpt-To"] == "noreply@odoo.com"


def test_submission_port_requires_starttls_before_auth(stack):
    with smtplib.SMTP("localhost", stack.ports["submission"], timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        assert client.has_extn("starttls")
        assert client.docmd("AUTH", "PLAIN AGFsaWNlAHg=")[0] == 530


@pytest.mark.parametrize("connect", [smtps, submission], ids=["smtps", "starttls"])
def test_wrong_password_is_refused_by_smtp(stack, connect):
    before = stack.smtp_stats()["logins"]
    with connect(stack) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login(ALICE[0], "not-the-password")
    assert refused.value.smtp_code == 535
    assert stack.smtp_stats()["logins"] == before


@pytest.mark.parametrize("port_name", ["imaps", "imap"])
def test_wrong_password_is_refused_by_imap(stack, port_name):
    if port_name == "imap":
        client = imaplib.IMAP4("localhost", stack.ports["imap"], timeout=10)
        client.starttls(stack.ssl_context())
    else:
        client = imaps(stack)
    with client, pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login(ALICE[0], "not-the-password")


def test_login_counter_counts_successful_smtp_logins(stack):
    before = stack.smtp_stats()
    for connect in (smtps, submission):
        with connect(stack) as client:
            client.login(*BOB)
    with smtps(stack) as client:
        client.login(*BOB)
        client.send_message(message(BOB[0], ALICE[0]))
    after = stack.smtp_stats()
    assert after["logins"] == before["logins"] + 3
    assert after["messages"] == before["messages"] + 1


@pytest.mark.parametrize("connect", [smtps, submission], ids=["smtps", "starttls"])
def test_smtp_replies_are_replayed_verbatim(stack, connect):
    stack.set_smtp_reply(ALICE[0], APP_PASSWORD_SMTP)
    stack.set_smtp_reply(BOB[0], BASIC_AUTH_DISABLED)
    try:
        with connect(stack) as client, pytest.raises(smtplib.SMTPAuthenticationError) as multi_line:
            client.login(*ALICE)
        with connect(stack) as client, pytest.raises(smtplib.SMTPAuthenticationError) as single_line:
            client.login(*BOB)
    finally:
        stack.clear_replies()
    assert multi_line.value.smtp_code == 534
    assert multi_line.value.smtp_error == (
        b"5.7.9 Application-specific password required. Learn more at\n"
        b"5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor"
    )
    assert (single_line.value.smtp_code, single_line.value.smtp_error) == (
        535,
        b"5.7.139 Authentication unsuccessful, basic authentication is disabled.",
    )
    with connect(stack) as client:
        assert client.login(*ALICE)[0] == 235


def test_imap_replay_answers_login_verbatim(stack):
    stack.set_imap_reply(ALICE[0], APP_PASSWORD_IMAP)
    try:
        with imaps(stack, "imap_replay") as client:
            assert "IMAP4REV1" in client.capabilities
            assert client.noop()[0] == "OK"
            with pytest.raises(imaplib.IMAP4.error) as replayed:
                client.login(*ALICE)
        with imaps(stack, "imap_replay") as client, pytest.raises(imaplib.IMAP4.error) as default:
            client.login(*BOB)
    finally:
        stack.clear_replies()
    assert replayed.value.args[0] == APP_PASSWORD_IMAP.removeprefix("NO ").encode()
    assert default.value.args[0] == b"[AUTHENTICATIONFAILED] Invalid credentials (Failure)"


@pytest.mark.parametrize(
    ("port_name", "reason"),
    [
        ("smtps_untrusted", "unable to get local issuer certificate"),
        ("smtps_expired", "certificate has expired"),
        ("smtps_wronghost", "Hostname mismatch"),
    ],
)
def test_bad_certificates_fail_verification(stack, port_name, reason):
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        smtplib.SMTP_SSL("localhost", stack.ports[port_name], context=stack.ssl_context(), timeout=10)


def test_ca_bundle_trusts_the_test_ca_and_the_system_cas(stack):
    bundle = ssl.create_default_context(cafile=stack.env()["MAILSTACK_CA_BUNDLE"])
    with smtplib.SMTP_SSL("localhost", stack.ports["smtps"], context=bundle, timeout=10) as client:
        assert client.login(*ALICE)[0] == 235
    assert len(bundle.get_ca_certs()) > 1


def test_sent_folder_has_special_use_and_is_subscribed(stack):
    with imaps(stack) as client:
        client.login(*ALICE)
        assert "SPECIAL-USE" in client.capability()[1][0].decode().split()
        listed = b"\n".join(client.list()[1])
        subscribed = b"\n".join(client.lsub()[1])
    for folder in dovecot.SPECIAL_USE:
        assert f'(\\HasNoChildren \\{folder}) "/" {folder}'.encode() in listed
        assert f'"/" {folder}'.encode() in subscribed


def test_users_added_while_running_are_seen_at_once(stack):
    carol = "carol@example.com"
    stack.add_user(carol, "pass:word 1")
    assert stack.fetch_messages(carol, "pass:word 1") == []
    stack.add_user(carol, "pass:word 2")  # same length, same second: the reload must still happen
    with pytest.raises(imaplib.IMAP4.error):
        stack.fetch_messages(carol, "pass:word 1")
    with smtps(stack) as client:
        assert client.login(carol, "pass:word 2")[0] == 235


def test_second_start_does_nothing(stack):
    pids = stack.pids()
    assert stack.start() is False
    assert stack.pids() == pids
    done = cli("start", "--dir", stack.dir, "--port-base", PORT_BASE)
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stdout
    assert stack.pids() == pids
    with pytest.raises(mailstack.StackError, match=f"already runs in .* on port base {PORT_BASE}"):
        mailstack.Stack(stack.dir, SPARE_BASE).start()


def test_cli_env_status_and_replies(stack):
    env = dict(line.split("=", 1) for line in cli("env", "--dir", stack.dir).stdout.splitlines())
    assert env["MAILSTACK_IMAPS_PORT"] == str(PORT_BASE + 993)
    assert env["MAILSTACK_SMTPS_PORT"] == str(PORT_BASE + 465)
    assert Path(env["MAILSTACK_CA_FILE"]) == stack.ca_file
    assert cli("status", "--dir", stack.dir).returncode == 0
    assert cli("smtp-reply", "--dir", stack.dir, BOB[0], BASIC_AUTH_DISABLED).returncode == 0
    try:
        with smtps(stack) as client, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(*BOB)
    finally:
        stack.clear_replies()
    assert refused.value.smtp_code == 535


def test_taken_port_gives_one_line_error_and_leaves_nothing_running(spare_dir):
    taken = SPARE_BASE + 587
    with socket.create_server(("127.0.0.1", taken)):
        done = cli("start", "--dir", spare_dir, "--port-base", SPARE_BASE)
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1
        assert f"port {taken} (submission)" in done.stderr
        assert "--port-base" in done.stderr
        spare = mailstack.Stack(spare_dir, SPARE_BASE)
        assert spare.pids() == {"dovecot": None, "servers": None}
        assert [name for name, up in spare.status().items() if up] == ["submission"]


@pytest.mark.parametrize(("port_name", "cause"), [("imaps", "Dovecot did not start"), ("smtps", "servers stopped")])
def test_port_taken_after_the_check_still_leaves_nothing_running(spare_dir, monkeypatch, port_name, cause):
    spare = mailstack.Stack(spare_dir, SPARE_BASE)
    monkeypatch.setattr(mailstack.stack, "check_free_ports", lambda layout: None)
    with socket.create_server(("127.0.0.1", spare.ports[port_name])):
        with pytest.raises(mailstack.StackError, match=f"{cause}.*[Aa]ddress already in use"):
            spare.start()
        assert spare.pids() == {"dovecot": None, "servers": None}
        assert [name for name, up in spare.status().items() if up] == [port_name]


def test_stop_stops_every_process(spare_dir):
    spare = mailstack.Stack(spare_dir, SPARE_BASE)
    assert spare.start({ALICE[0]: ALICE[1]}) is True
    pids = spare.pids()
    kids = procs.children(pids["dovecot"])
    assert kids
    assert spare.stop() is True
    assert not any(spare.status().values())
    assert not any(procs.is_running(pid, "") for pid in [*pids.values(), *kids])
    assert cli("status", "--dir", spare_dir).returncode == 3


def test_missing_dovecot_says_how_to_install(monkeypatch):
    monkeypatch.setattr(dovecot.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(mailstack.StackError, match=re.escape("run scripts/bootstrap.sh")):
        dovecot.binary()
    monkeypatch.setattr(dovecot.os, "geteuid", lambda: 1000)
    with pytest.raises(mailstack.StackError, match="apt-get install -y dovecot-imapd dovecot-lmtpd"):
        dovecot.binary()


def test_default_root_is_the_one_the_scripts_use(monkeypatch):
    monkeypatch.delenv("MCL_STACKS", raising=False)
    env = {key: value for key, value in os.environ.items() if key != "MCL_STACKS"}
    done = subprocess.run(["bash", "-c", '. scripts/env.sh && printf %s "$MCL_STACKS"'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert owned.default_root(REPO) == Path(done.stdout)
    for text in ("", "a", "/work/main", "é" * 300):
        printed = subprocess.run(["cksum"], input=text.encode(), capture_output=True, check=True).stdout
        assert owned.posix_cksum(text.encode()) == int(printed.split()[0])
    monkeypatch.setenv("MCL_STACKS", str(REPO / ".run" / "stacks"))
    assert owned.default_root(REPO) == REPO / ".run" / "stacks"


def test_claim_skips_busy_slots_and_recovers_a_stack_left_running():
    root = run_dir()
    bases = (PORT_BASE + 2000, PORT_BASE + 3000)
    stacks = []
    try:
        with socket.create_server(("127.0.0.1", bases[0] + 587)):  # something else listens there
            stacks.append(owned.claim(root, bases=bases))
        assert stacks[0].dir == root / f"mailstack-own-{bases[1]}"
        assert stacks[0].running()
        with pytest.raises(mailstack.StackError, match=rf"busy {bases[1]} \(another test run\)"):
            owned.claim(root, bases=bases[1:])  # that slot is locked while its owner lives
        left = stacks.pop()
        left.owner_lock.close()  # its owner was killed: the stack runs on, unlocked
        pids = left.pids()
        stacks.append(owned.claim(root, bases=bases[1:]))
        assert stacks[0].dir == left.dir
        assert stacks[0].running()
        assert not any(procs.is_running(pid, "") for pid in pids.values()), "the stack left running was stopped"
        assert owned.stop_left(root) == [], "make stop leaves a live run's stack alone"
        stacks[0].owner_lock.close()  # killed again
        done = cli("stop-left", "--root", root)
        assert done.returncode == 0, done.stderr
        assert f"{stacks[0].dir}: stopped" in done.stdout
        assert not stacks[0].running()
    finally:
        for stack in stacks:
            stack.stop()
        for directory in owned.slot_dirs(root):
            mailstack.Stack(directory, int(directory.name.rsplit("-", 1)[1])).stop()
        shutil.rmtree(root)
