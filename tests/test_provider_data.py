"""Checks on the mail provider presets, without an Odoo database.

The data file ``mcl_mailbox/data/mcl_mailbox_provider_data.xml`` is parsed with
``xml.etree``; every check returns a list of problems, so that the same checks
are also run on deliberately broken copies to prove they can fail.
"""

import ast
import copy
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ADDON = Path(__file__).resolve().parents[1] / "mcl_mailbox"
DATA_FILE = ADDON / "data" / "mcl_mailbox_provider_data.xml"
VIEWS_FILE = ADDON / "views" / "mcl_mailbox_provider_views.xml"
MODEL_FILE = ADDON / "models" / "mcl_mailbox_provider.py"
MODEL = "mcl.mailbox.provider"

REQUIRED_CODES = {
    "gmail",
    "outlook",
    "microsoft365",
    "yahoo",
    "icloud",
    "orange",
    "free",
    "sfr",
    "laposte",
    "bbox",
    "ovh",
    "ionos",
    "gandi",
    "infomaniak",
    "zoho",
    "gmx",
    "manual",
}
# (port, encryption) pairs that match the standard ports (RFC 8314).
VALID_PAIRS = {
    "imap": {("993", "ssl"), ("143", "starttls")},
    "smtp": {("465", "ssl"), ("587", "starttls")},
}
SELECTIONS = {
    "imap_encryption": {"ssl", "starttls", "none"},
    "smtp_encryption": {"none", "starttls", "ssl"},
    "login_format": {"address", "local_part"},
    "auth_kind": {"app_password", "password", "oauth"},
}
URL_FIELDS = ("password_url", "help_url")


# -- parsing ---------------------------------------------------------------


def _field_value(field):
    if field.get("eval") is not None:
        return field.get("eval")
    if field.get("type") == "html":
        return "".join(ET.tostring(child, encoding="unicode") for child in field)
    return (field.text or "").strip()


def _records(root):
    """Return one dict per preset record: field values plus ``_id``."""
    records = []
    for record in root.iter("record"):
        if record.get("model") != MODEL:
            continue
        values = {f.get("name"): _field_value(f) for f in record.findall("field")}
        values["_id"] = record.get("id")
        records.append(values)
    return records


def _by_code(records):
    return {r.get("code"): r for r in records}


def _split(value):
    return [item for item in (value or "").split(",") if item]


def _model_fields():
    """Field names declared in the model file (``name = fields.X(...)``)."""
    tree = ast.parse(MODEL_FILE.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and isinstance(node.value.func.value, ast.Name)
            and node.value.func.value.id == "fields"
        ):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


# -- checks: each returns a list of problems ---------------------------------


def check_root(root):
    return [] if root.get("noupdate") == "1" else ['<odoo> must have noupdate="1"']


def check_codes(records):
    problems = []
    codes = [r.get("code") for r in records]
    for code in REQUIRED_CODES - set(codes):
        problems.append(f"missing preset {code!r}")
    for code in {c for c in codes if codes.count(c) > 1}:
        problems.append(f"code {code!r} is used twice")
    for r in records:
        if r["_id"] != f"provider_{r.get('code')}":
            problems.append(f"{r['_id']}: xml id must be provider_{r.get('code')}")
        if not r.get("name"):
            problems.append(f"{r['_id']}: no name")
    return problems


def check_fields_exist(records):
    known = _model_fields()
    return [
        f"{r['_id']}: unknown field {name!r}"
        for r in records
        for name in r
        if name != "_id" and name not in known
    ]


def check_selections(records):
    problems = []
    for r in records:
        for fname, allowed in SELECTIONS.items():
            if fname in r and r[fname] not in allowed:
                problems.append(f"{r['_id']}: {fname}={r[fname]!r} not in {allowed}")
        for fname in ("login_format", "auth_kind"):
            if fname not in r:
                problems.append(f"{r['_id']}: {fname} must be explicit")
    return problems


def check_servers(records):
    problems = []
    for r in records:
        if r.get("code") == "manual":
            for key in ("imap_host", "smtp_host", "imap_port", "smtp_port"):
                if r.get(key):
                    problems.append(f"manual preset must not set {key}")
            continue
        for kind in ("imap", "smtp"):
            host = r.get(f"{kind}_host", "")
            pair = (r.get(f"{kind}_port", ""), r.get(f"{kind}_encryption", ""))
            if not host:
                problems.append(f"{r['_id']}: no {kind}_host")
            elif host != host.strip().lower() or " " in host or "." not in host:
                problems.append(f"{r['_id']}: bad {kind}_host {host!r}")
            if pair not in VALID_PAIRS[kind]:
                problems.append(
                    f"{r['_id']}: {kind} port/encryption {pair} is not standard"
                )
    return problems


def check_domains(records):
    problems = []
    owner = {}
    for r in records:
        for fname in ("domains", "mx_patterns"):
            for item in _split(r.get(fname)):
                if (
                    item != item.strip().lower()
                    or "@" in item
                    or " " in item
                    or "." not in item
                ):
                    problems.append(f"{r['_id']}: bad {fname} item {item!r}")
        for domain in _split(r.get("domains")):
            if domain in owner:
                problems.append(
                    f"domain {domain!r} claimed by {owner[domain]} and {r['_id']}"
                )
            owner[domain] = r["_id"]
    return problems


def check_urls(records):
    problems = []
    for r in records:
        if r.get("auth_kind") == "app_password" and not r.get(
            "password_url", ""
        ).startswith("https://"):
            problems.append(
                f"{r['_id']}: app_password preset needs an https:// password_url"
            )
        for fname in URL_FIELDS:
            if r.get(fname) and not r[fname].startswith("https://"):
                problems.append(f"{r['_id']}: {fname} must start with https://")
    return problems


def check_guidance(records):
    problems = []
    for r in records:
        steps = r.get("setup_steps", "")
        if not (steps.startswith("<ol>") and "<li>" in steps):
            problems.append(f"{r['_id']}: setup_steps must be an <ol> list")
        if not r.get("note"):
            problems.append(f"{r['_id']}: no note")
        if r.get("auth_kind") == "app_password" and "https://" not in steps:
            problems.append(f"{r['_id']}: setup_steps should link to the password page")
    return problems


def check_provider_rules(records):
    problems = []
    presets = _by_code(records)
    outlook = presets.get("outlook", {})
    if outlook.get("auth_kind") != "oauth":
        problems.append("outlook must be oauth")
    if "16 September 2024" not in outlook.get("note", ""):
        problems.append("outlook note must mention 16 September 2024")
    if presets.get("microsoft365", {}).get("auth_kind") != "oauth":
        problems.append("microsoft365 must be oauth")
    free = presets.get("free", {})
    if free.get("login_format") != "local_part":
        problems.append("free must log in with the local part")
    if "SMTP" not in free.get("note", ""):
        problems.append("free note must mention SMTP")
    if presets.get("laposte", {}).get("login_format") != "local_part":
        problems.append("laposte must log in with the local part")
    gmail = presets.get("gmail", {})
    if gmail.get("password_url") != "https://myaccount.google.com/apppasswords":
        problems.append("gmail password_url must be the app passwords page")
    manual = presets.get("manual", {})
    if manual.get("auth_kind") != "password" or manual.get("login_format") != "address":
        problems.append("manual must use a password and the full address")
    for r in records:
        sent_copy = r.get("files_sent_copy", "False") == "True"
        if sent_copy != (r.get("code") == "gmail"):
            problems.append(f"{r['_id']}: files_sent_copy must be True only for gmail")
    return problems


def check_sequence(records):
    ordered = sorted(records, key=lambda r: int(r.get("sequence", 10)))
    codes = [r.get("code") for r in ordered]
    problems = []
    if not codes or codes[0] != "gmail":
        problems.append(f"gmail must come first, got {codes[:1]}")
    if not codes or codes[-1] != "manual":
        problems.append(f"manual must come last, got {codes[-1:]}")
    sequences = [r.get("sequence") for r in records]
    if len(set(sequences)) != len(sequences):
        problems.append("sequences must be distinct")
    return problems


RECORD_CHECKS = [
    check_codes,
    check_fields_exist,
    check_selections,
    check_servers,
    check_domains,
    check_urls,
    check_guidance,
    check_provider_rules,
    check_sequence,
]


# -- tests on the shipped data -------------------------------------------------


@pytest.fixture(scope="module")
def root():
    return ET.parse(DATA_FILE).getroot()


def test_noupdate(root):
    assert check_root(root) == []


@pytest.mark.parametrize("check", RECORD_CHECKS, ids=lambda c: c.__name__)
def test_data(root, check):
    assert check(_records(root)) == []


def test_views_use_known_fields():
    known = _model_fields()
    arch_fields = {
        f.get("name")
        for record in ET.parse(VIEWS_FILE).getroot().iter("record")
        if record.get("model") == "ir.ui.view"
        for arch in record.findall("field[@name='arch']")
        for f in arch.iter("field")
        if f is not arch
    }
    assert arch_fields and arch_fields <= known, arch_fields - known


# -- the checks catch broken data ----------------------------------------------


def _set(root, code, fname, value):
    """Set (or with value None, remove) a field of the preset ``code``."""
    record = root.find(f".//record[@id='provider_{code}']")
    field = record.find(f"field[@name='{fname}']")
    if value is None:
        if field is not None:
            record.remove(field)
        return
    if field is None:
        field = ET.SubElement(record, "field", name=fname)
    field.text = value


BROKEN = [
    (
        "missing preset",
        check_codes,
        lambda r: r.remove(r.find(".//record[@id='provider_sfr']")),
    ),
    ("imap host", check_servers, lambda r: _set(r, "orange", "imap_host", None)),
    (
        "smtp pair",
        check_servers,
        lambda r: _set(r, "sfr", "smtp_encryption", "starttls"),
    ),
    ("imap pair", check_servers, lambda r: _set(r, "gmail", "imap_port", "465")),
    (
        "duplicate domain",
        check_domains,
        lambda r: _set(r, "yahoo", "domains", "yahoo.fr,gmail.com"),
    ),
    ("domain with @", check_domains, lambda r: _set(r, "free", "domains", "@free.fr")),
    (
        "app password url",
        check_urls,
        lambda r: _set(r, "yahoo", "password_url", "http://x.test"),
    ),
    (
        "outlook oauth",
        check_provider_rules,
        lambda r: _set(r, "outlook", "auth_kind", "app_password"),
    ),
    (
        "outlook note",
        check_provider_rules,
        lambda r: _set(r, "outlook", "note", "Use a password."),
    ),
    (
        "free login",
        check_provider_rules,
        lambda r: _set(r, "free", "login_format", "address"),
    ),
    (
        "free note",
        check_provider_rules,
        lambda r: _set(r, "free", "note", "Nothing to do."),
    ),
    (
        "sent copy",
        check_provider_rules,
        lambda r: _set(r, "orange", "files_sent_copy", "True"),
    ),
    (
        "unknown field",
        check_fields_exist,
        lambda r: _set(r, "gmail", "imap_server", "x"),
    ),
    (
        "bad selection",
        check_selections,
        lambda r: _set(r, "gmail", "auth_kind", "token"),
    ),
    ("manual last", check_sequence, lambda r: _set(r, "manual", "sequence", "5")),
]


@pytest.mark.parametrize("label, check, breaker", BROKEN, ids=[b[0] for b in BROKEN])
def test_checks_detect_broken_data(root, label, check, breaker):
    broken = copy.deepcopy(root)
    breaker(broken)
    assert check(_records(broken)), f"{check.__name__} did not detect: {label}"
