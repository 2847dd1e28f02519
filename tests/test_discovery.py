"""Mail settings discovery against a local DNS server and a local HTTPS server: no network needed."""

import logging
import re
import threading
import time

import pytest
from mailstack.discovery import DnsServer, HttpsServer, Route, SilentDnsServer, make_pki
from mcl_core import discovery
from mcl_core.discovery import (
    DEFAULT_TIMEOUT,
    HttpsFetcher,
    Preset,
    Proposal,
    Refusal,
    Server,
    discover,
    make_resolver,
    parse_autoconfig,
)

SLACK = 1.0
AUTOCONFIG_PATH = "/mail/config-v1.1.xml"
WELL_KNOWN_PATH = "/.well-known/autoconfig/mail/config-v1.1.xml"
PRESETS = (
    Preset("ovh", ("ovh.net",), Server("ssl0.ovh.net", 993, "ssl"), Server("ssl0.ovh.net", 465, "ssl")),
    Preset("gandi", ("gandi.net",), Server("mail.gandi.net", 993, "ssl"), Server("mail.gandi.net", 465, "ssl")),
)


def autoconfig(*servers, username="%EMAILADDRESS%"):
    """A Thunderbird autoconfig file; each server is (element, type, host, port, socketType, auth...)."""
    entries = "".join(
        f'<{element} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
        f"<socketType>{socket_type}</socketType>"
        + "".join(f"<authentication>{method}</authentication>" for method in methods)
        + f"<username>{username}</username></{element}>"
        for element, kind, host, port, socket_type, *methods in servers
    )
    return (
        '<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="x"><domain>x</domain>'
        f"{entries}</emailProvider></clientConfig>"
    ).encode()


IMAP_SSL = ("incomingServer", "imap", "imap.%EMAILDOMAIN%", 993, "SSL", "password-cleartext")
SMTP_SSL = ("outgoingServer", "smtp", "smtp.%EMAILDOMAIN%", 465, "SSL", "password-cleartext")


def variant(server, socket_type, *methods):
    """``server`` with another socketType and, when given, other authentication methods."""
    return (*server[:4], socket_type, *(methods or server[5:]))


GOOD = autoconfig(IMAP_SSL, SMTP_SSL, username="%EMAILLOCALPART%")
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<clientConfig><emailProvider><displayName>&lol3;</displayName></emailProvider></clientConfig>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<clientConfig><emailProvider><displayName>&xxe;</displayName></emailProvider></clientConfig>"
)
DOCTYPE_ONLY = b'<?xml version="1.0"?><!DOCTYPE clientConfig SYSTEM "https://evil.test/x.dtd">' + GOOD.split(b"?>", 1)[1]

# Test domain -> its records; every autoconfig host points to 127.0.0.1.
ZONE = {
    # Autoconfig, SRV and MX all answer: autoconfig wins.
    "auto.test": [("autoconfig.auto.test", "A", "127.0.0.1"), ("_imaps._tcp.auto.test", "SRV", "0 1 993 srv.auto.test."),
                  ("_submissions._tcp.auto.test", "SRV", "0 1 465 srv.auto.test."), ("auto.test", "MX", "10 mx1.mail.ovh.net.")],
    "wellknown.test": [("wellknown.test", "A", "127.0.0.1")],
    # SRV and MX answer: SRV wins; STARTTLS submission, a "." record meaning "not offered".
    "srv.test": [("_imaps._tcp.srv.test", "SRV", "0 0 0 ."), ("_imap._tcp.srv.test", "SRV", "10 5 143 imap.srv.test."),
                 ("_imap._tcp.srv.test", "SRV", "5 1 1143 imap-primary.srv.test."),
                 ("_submission._tcp.srv.test", "SRV", "0 1 587 smtp.srv.test."), ("srv.test", "MX", "10 spool.mail.gandi.net.")],
    "mx.test": [("mx.test", "MX", "20 mx2.mail.ovh.net."), ("mx.test", "MX", "5 mx1.mail.ovh.net.")],
    "unknown.test": [("unknown.test", "MX", "10 mail.unknown.test.")],
    # An autoconfig file offering only plaintext loses to encrypted SRV records.
    "plain.test": [("autoconfig.plain.test", "A", "127.0.0.1"), ("_imaps._tcp.plain.test", "SRV", "0 1 993 imap.plain.test."),
                   ("_submissions._tcp.plain.test", "SRV", "0 1 465 smtp.plain.test.")],
    "plainonly.test": [("autoconfig.plainonly.test", "A", "127.0.0.1")],
    # An incomplete autoconfig file loses to complete MX settings.
    "half.test": [("autoconfig.half.test", "A", "127.0.0.1"), ("half.test", "MX", "10 mx1.mail.ovh.net.")],
    "badcert.test": [("autoconfig.badcert.test", "A", "127.0.0.1")],
    "slow.test": [("autoconfig.slow.test", "A", "127.0.0.1"), ("slow.test", "MX", "10 spool.mail.gandi.net.")],
    **{f"{name}.test": [(f"autoconfig.{name}.test", "A", "127.0.0.1"), (f"{name}.test", "MX", "10 mx1.mail.gandi.net.")]
       for name in ("laughs", "xxe", "doctype", "malformed", "big", "toplain", "loop", "hop", "oauth")},
}
HOSTILE = {
    "laughs": Route(BILLION_LAUGHS),
    "xxe": Route(EXTERNAL_ENTITY),
    "doctype": Route(DOCTYPE_ONLY),
    "malformed": Route(b"<clientConfig><emailProvider>"),
    "big": Route(GOOD.replace(b"<domain>", b"<!--" + b"x" * 200_000 + b"--><domain>")),
    "toplain": Route(status=302, headers={"Location": "http://autoconfig.toplain.test/mail/config-v1.1.xml"}),
    "loop": Route(status=301, headers={"Location": AUTOCONFIG_PATH}),
    "hop": Route(status=307, headers={"Location": "https://wellknown.test" + WELL_KNOWN_PATH}),
    "oauth": Route(autoconfig(variant(IMAP_SSL, "SSL", "OAuth2"), variant(SMTP_SSL, "SSL", "OAuth2"))),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    names = [host for records in ZONE.values() for host, rdtype, _data in records if rdtype == "A"]
    ca_file, cert_file, key_file = make_pki(tmp_path_factory.mktemp("discovery"), [n for n in names if "badcert" not in n])
    routes = {
        ("autoconfig.auto.test", AUTOCONFIG_PATH): Route(GOOD),
        ("wellknown.test", WELL_KNOWN_PATH): Route(GOOD),
        ("autoconfig.plain.test", AUTOCONFIG_PATH): Route(autoconfig(variant(IMAP_SSL, "plain"),
                                                                     variant(SMTP_SSL, "plain"))),
        ("autoconfig.plainonly.test", AUTOCONFIG_PATH): Route(autoconfig(
            variant(IMAP_SSL, "plain"), variant(SMTP_SSL, "plain"))),
        ("autoconfig.half.test", AUTOCONFIG_PATH): Route(autoconfig(IMAP_SSL)),
        ("autoconfig.badcert.test", AUTOCONFIG_PATH): Route(GOOD),
        ("autoconfig.slow.test", AUTOCONFIG_PATH): Route(GOOD, trickle=0.2),
        **{(f"autoconfig.{name}.test", AUTOCONFIG_PATH): route for name, route in HOSTILE.items()},
    }
    records = [record for domain_records in ZONE.values() for record in domain_records]
    with DnsServer(records) as dns_server, HttpsServer(routes, cert_file, key_file) as https:
        yield dns_server, https, ca_file


@pytest.fixture(scope="module")
def resolver(servers):
    return make_resolver(servers[0].address)


@pytest.fixture(scope="module")
def fetcher(servers, resolver):
    return HttpsFetcher(resolver, cafile=servers[2], allow_private=True, port=servers[1].port)


def run(email, resolver, fetcher, **kwargs):
    return discover(email, PRESETS, resolver=resolver, http_get=fetcher, **kwargs)


# --- Each source --------------------------------------------------------------------------------


def test_autoconfig_file_wins_over_srv_and_mx(servers, resolver, fetcher):
    proposal = run("Claire.Martin@auto.test", resolver, fetcher)
    url = "https://autoconfig.auto.test/mail/config-v1.1.xml?emailaddress=Claire.Martin@auto.test"
    assert proposal == Proposal(Server("imap.auto.test", 993, "ssl"), Server("smtp.auto.test", 465, "ssl"),
                                "%EMAILLOCALPART%", "autoconfig", url)
    assert proposal.login_for("claire.martin@auto.test") == "claire.martin"
    assert proposal.description == f"autoconfig file at {url}"
    assert ("autoconfig.auto.test", "/mail/config-v1.1.xml?emailaddress=Claire.Martin@auto.test") in servers[1].requests


def test_well_known_autoconfig_file(resolver, fetcher):
    proposal = run("doc@wellknown.test", resolver, fetcher)
    assert (proposal.source, proposal.origin) == ("autoconfig", "https://wellknown.test" + WELL_KNOWN_PATH)
    assert proposal.imap == Server("imap.wellknown.test", 993, "ssl")


def test_srv_records_win_over_mx(resolver, fetcher):
    proposal = run("doc@srv.test", resolver, fetcher)
    assert proposal == Proposal(Server("imap-primary.srv.test", 1143, "starttls"), Server("smtp.srv.test", 587, "starttls"),
                                "%EMAILADDRESS%", "srv", "_imap._tcp.srv.test, _submission._tcp.srv.test")


def test_mx_records_map_to_a_preset(resolver, fetcher):
    proposal = run("doc@mx.test", resolver, fetcher)
    assert (proposal.source, proposal.preset, proposal.origin) == ("mx", "ovh", "mx1.mail.ovh.net")
    assert (proposal.imap, proposal.smtp) == (PRESETS[0].imap, PRESETS[0].smtp)
    assert proposal.description == "MX records: the domain's mail is hosted at mx1.mail.ovh.net, preset ovh"


def test_unknown_domain_gives_nothing_and_says_why(resolver, fetcher, caplog):
    with caplog.at_level(logging.INFO, logger=discovery.__name__):
        assert run("doc@unknown.test", resolver, fetcher) is None
    assert "mail.unknown.test) match no known provider" in caplog.text
    assert "autoconfig.unknown.test does not resolve" in caplog.text
    assert run("doc@nowhere.test", resolver, fetcher) is None
    assert run("not-an-address", resolver, fetcher) is None


# --- Priority -----------------------------------------------------------------------------------


def test_plaintext_is_used_only_when_nothing_better_and_flagged(resolver, fetcher):
    proposal = run("doc@plain.test", resolver, fetcher)
    assert (proposal.source, proposal.plaintext) == ("srv", False)
    plain = run("doc@plainonly.test", resolver, fetcher)
    assert (plain.source, plain.plaintext, plain.imap.security, plain.smtp.security) == ("autoconfig", True, "none", "none")


def test_a_complete_answer_wins_over_a_partial_one(resolver, fetcher):
    proposal = run("doc@half.test", resolver, fetcher)
    assert (proposal.source, proposal.preset) == ("mx", "ovh")


def test_autoconfig_prefers_encryption_then_the_files_order():
    data = autoconfig(
        ("incomingServer", "pop3", "pop.x.test", 995, "SSL", "password-cleartext"),
        ("incomingServer", "imap", "plain.x.test", 143, "plain", "password-cleartext"),
        ("incomingServer", "imap", "oauth.x.test", 993, "SSL", "OAuth2"),
        ("incomingServer", "imap", "tls.x.test", 143, "STARTTLS", "password-encrypted"),
        ("incomingServer", "imap", "tls2.x.test", 143, "STARTTLS", "password-cleartext"),
        SMTP_SSL,
    )
    proposal = parse_autoconfig(data, "https://x.test/", "x.test")
    assert proposal.imap == Server("tls.x.test", 143, "starttls")
    assert proposal.login == "%EMAILADDRESS%"


def test_unknown_login_placeholders_fall_back_to_the_address():
    proposal = parse_autoconfig(autoconfig(IMAP_SSL, SMTP_SSL, username="%REALNAME%"), "https://x.test/", "x.test")
    assert proposal.login_for("a@x.test") == "a@x.test"


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "reason"), [
    (BILLION_LAUGHS, "declares a DOCTYPE"),
    (EXTERNAL_ENTITY, "declares a DOCTYPE"),
    (DOCTYPE_ONLY, "declares a DOCTYPE"),
    (b"<clientConfig><emailProvider>", "not well-formed XML"),
    (b"", "not well-formed XML"),
    (b"<html><body>Welcome</body></html>", "not an autoconfig file"),
    (autoconfig(variant(IMAP_SSL, "SSL", "OAuth2"), variant(SMTP_SSL, "SSL", "OAuth2")), "no password sign-in (only: oauth2)"),
    (autoconfig(("incomingServer", "imap", "bad host", 993, "SSL", "password-cleartext")), "incomplete or invalid"),
])
def test_hostile_or_unusable_files_are_refused_cleanly(data, reason):
    with pytest.raises(Refusal, match=re.escape(reason)):
        parse_autoconfig(data, "https://x.test/", "x.test")


@pytest.mark.parametrize(("name", "reason"), [
    ("laughs", "declares a DOCTYPE"),
    ("xxe", "declares a DOCTYPE"),
    ("doctype", "declares a DOCTYPE"),
    ("malformed", "not well-formed"),
    ("big", "larger than 100 kB"),
    ("toplain", "which is not HTTPS: refused"),
    ("loop", "more than 3 redirects"),
    ("oauth", "no password sign-in"),
])
def test_hostile_servers_fall_back_to_the_next_source(name, reason, resolver, fetcher, caplog):
    with caplog.at_level(logging.INFO, logger=discovery.__name__):
        proposal = run(f"doc@{name}.test", resolver, fetcher)
    assert (proposal.source, proposal.preset) == ("mx", "gandi")
    assert reason in caplog.text
    assert "Traceback" not in caplog.text


def test_redirects_to_https_are_followed(resolver, fetcher):
    assert parse_autoconfig(fetcher("https://autoconfig.hop.test" + AUTOCONFIG_PATH, discovery.Deadline(5)),
                            "u", "hop.test").imap == Server("imap.hop.test", 993, "ssl")


def test_certificates_are_verified(resolver, fetcher):
    with pytest.raises(Refusal, match=re.escape("certificate of autoconfig.badcert.test is not trusted")):
        fetcher("https://autoconfig.badcert.test" + AUTOCONFIG_PATH, discovery.Deadline(5))
    untrusting = HttpsFetcher(resolver, allow_private=True, port=fetcher.port)
    with pytest.raises(Refusal, match=re.escape("certificate of autoconfig.auto.test is not trusted")):
        untrusting("https://autoconfig.auto.test" + AUTOCONFIG_PATH, discovery.Deadline(5))


def test_private_addresses_are_refused_unless_allowed(servers, resolver):
    strict = HttpsFetcher(resolver, cafile=servers[2], port=servers[1].port)
    with pytest.raises(Refusal, match=re.escape("resolves to the non-public address 127.0.0.1")):
        strict("https://autoconfig.auto.test" + AUTOCONFIG_PATH, discovery.Deadline(5))


def test_only_https_urls_are_fetched(fetcher):
    with pytest.raises(Refusal, match="is not an HTTPS URL"):
        fetcher("http://autoconfig.auto.test" + AUTOCONFIG_PATH, discovery.Deadline(5))


# --- Time bound ---------------------------------------------------------------------------------


def discovery_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("mcl-discovery")]


def test_a_dns_server_that_never_answers():
    with SilentDnsServer() as silent:
        began = time.monotonic()
        assert discover("doc@auto.test", PRESETS, resolver=make_resolver(silent.address)) is None
    assert time.monotonic() - began < DEFAULT_TIMEOUT + SLACK


def test_a_stalling_https_server_is_cut_at_the_deadline(resolver, fetcher):
    began = time.monotonic()
    proposal = run("doc@slow.test", resolver, fetcher)
    assert time.monotonic() - began < DEFAULT_TIMEOUT + SLACK
    assert (proposal.source, proposal.preset) == ("mx", "gandi")
    time.sleep(0.5)
    assert not discovery_threads(), "the stalled download is cut, not left running"


def test_make_resolver_reads_ip_and_port():
    assert (make_resolver("127.0.0.1:25353").nameservers, make_resolver("127.0.0.1:25353").port) == (["127.0.0.1"], 25353)
    assert make_resolver("[::1]:53").nameservers == ["::1"]
    assert make_resolver("::1").port == 53
    with pytest.raises(ValueError):
        make_resolver("dns.example.test")
