"""The French translation covers every term of the template, placeholders and markup intact. No Odoo.

mcl_mailbox/i18n/mcl_mailbox.pot is written by Odoo's exporter (scripts/i18n_export.sh, `make pot`);
mcl_mailbox/i18n/fr.po must translate each of its msgids. Whether the template itself is up to date
with the code is checked inside Odoo by mcl_mailbox/tests/test_i18n.py.
"""

import re
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest

I18N = Path(__file__).resolve().parents[1] / "mcl_mailbox" / "i18n"
POT_PATH = I18N / "mcl_mailbox.pot"
PO_PATH = I18N / "fr.po"
FIX = "run `bash scripts/i18n_export.sh` (make pot), then translate the msgstr in mcl_mailbox/i18n/fr.po"

# printf-style placeholders as Odoo's _() formats them: %s, %d, %(name)s...; "%%" is a literal percent.
PRINTF = re.compile(r"%(?:\((?P<name>[^)]+)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")
BRACES = re.compile(r"\{[^{}]*\}")
# Attributes whose value is not prose: a translation keeps them as they are.
FIXED_ATTRIBUTES = ("href", "src", "class", "target", "rel", "style", "role", "name", "t-att-href")


@pytest.fixture(scope="module")
def pot():
    return [entry for entry in polib.pofile(str(POT_PATH)) if not entry.obsolete and entry.msgid]


@pytest.fixture(scope="module")
def fr():
    return polib.pofile(str(PO_PATH))


@pytest.fixture(scope="module")
def pairs(pot, fr):
    """(template entry, its fr.po entry or None) for every msgid of the template."""
    translations = {entry.msgid: entry for entry in fr if not entry.obsolete}
    return [(entry, translations.get(entry.msgid)) for entry in pot]


def _translated(pairs):
    return [(entry, tr) for entry, tr in pairs if tr is not None and tr.msgstr.strip() and "fuzzy" not in tr.flags]


def _short(text):
    return text.replace("\n", "\\n")[:120]


def _report(problems, what):
    return f"{len(problems)} {what}:\n" + "\n".join(f"  - {problem}" for problem in problems) + f"\n{FIX}"


def _is_data(entry):
    """Whether the term comes from a record (field label, view, menu, preset...) rather than from Python code."""
    return any(not occurrence.startswith("code:") for occurrence, _line in entry.occurrences)


def placeholders(text):
    """Named printf placeholders (a set: one may repeat), positional ones (a multiset) and {...} fields."""
    named, positional = set(), Counter()
    for match in PRINTF.finditer(text):
        if match.group(0) == "%%":
            continue
        if match.group("name"):
            named.add(match.group(0))
        else:
            positional[match.group(0)] += 1
    return named, positional, Counter(BRACES.findall(text))


class _Markup(HTMLParser):
    """Tag names opened, tags left unclosed, and the fixed attributes of each tag."""

    VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "source"})

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags = Counter()
        self.fixed = Counter()
        self.open = []
        self.errors = []
        self.feed(text)
        self.close()
        self.errors.extend(f"<{tag}> not closed" for tag in self.open)

    def _start(self, tag, attrs):
        self.tags[tag] += 1
        self.fixed.update((tag, name, value) for name, value in attrs if name in FIXED_ATTRIBUTES)

    def handle_starttag(self, tag, attrs):
        self._start(tag, attrs)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._start(tag, attrs)

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.errors.append(f"</{tag}> closes nothing")


def test_template_exists_and_is_odoo_export(pot):
    assert POT_PATH.exists() and PO_PATH.exists(), FIX
    assert len(pot) > 100, "the template looks truncated"
    assert all(any(line.startswith("module:") for line in entry.comment.splitlines()) for entry in pot), (
        "every entry of the template carries Odoo's '#. module:' comment: write it with Odoo's exporter"
    )


def test_fr_header():
    metadata = polib.pofile(str(PO_PATH)).metadata
    assert metadata.get("Language") == "fr"
    assert metadata.get("Plural-Forms", "").replace(" ", "") == "nplurals=2;plural=(n>1);"
    assert "charset=UTF-8" in metadata.get("Content-Type", "")


def test_every_term_is_translated(pairs):
    problems = []
    for entry, tr in pairs:
        if tr is None:
            problems.append(f"missing from fr.po: {_short(entry.msgid)!r}")
        elif not tr.msgstr.strip():
            problems.append(f"empty msgstr: {_short(entry.msgid)!r}")
        elif "fuzzy" in tr.flags:
            problems.append(f"fuzzy: {_short(entry.msgid)!r}")
    assert not problems, _report(problems, "terms without a French translation")


def test_placeholders_are_kept(pairs):
    problems = []
    for entry, tr in _translated(pairs):
        source, french = placeholders(entry.msgid), placeholders(tr.msgstr)
        if source != french:
            problems.append(f"{_short(entry.msgid)!r}: {source} in English, {french} in French")
    assert not problems, _report(problems, "translations that change placeholders")


def test_markup_of_data_terms_is_kept(pairs):
    """Views, presets' setup steps, action help: same tags, balanced, links and classes unchanged."""
    problems = []
    for entry, tr in _translated(pairs):
        if not _is_data(entry) or "<" not in entry.msgid + tr.msgstr:
            continue
        source, french = _Markup(entry.msgid), _Markup(tr.msgstr)
        if french.errors and not source.errors:
            problems.append(f"{_short(tr.msgstr)!r}: {', '.join(french.errors)}")
        if source.tags != french.tags:
            problems.append(f"{_short(entry.msgid)!r}: tags {dict(source.tags)} become {dict(french.tags)}")
        if source.fixed != french.fixed:
            changed = (source.fixed - french.fixed) + (french.fixed - source.fixed)
            problems.append(f"{_short(entry.msgid)!r}: attributes changed {sorted(changed)}")
    assert not problems, _report(problems, "translations that change the markup")


def test_data_terms_stay_well_formed(pairs):
    """Odoo drops a view term whose translation is not well-formed XML: keep "&gt;", "&amp;", closed tags."""
    problems = []
    for entry, tr in _translated(pairs):
        if not _is_data(entry):
            continue
        try:
            ET.fromstring(f"<div>{entry.msgid}</div>")
        except ET.ParseError:
            continue  # not XML in English either (plain text with a raw "&", say)
        try:
            ET.fromstring(f"<div>{tr.msgstr}</div>")
        except ET.ParseError as error:
            problems.append(f"{_short(tr.msgstr)!r}: {error}")
    assert not problems, _report(problems, "translations that are not well-formed")


def test_checks_catch_mistakes():
    """The checks above do fail on the mistakes they are for."""
    assert placeholders("Hello %(name)s, %s") != placeholders("Bonjour %(nom)s, %s")
    assert placeholders("%s of %s") != placeholders("%s")
    assert placeholders("{count} items") != placeholders("{nombre} éléments")
    assert placeholders("100%% sure %s") == placeholders("sûr à 100%% %s")
    link = _Markup('See <a href="https://example.com/a">this page</a>.')
    assert link.fixed != _Markup('Voir <a href="https://example.com/b">cette page</a>.').fixed
    assert link.tags != _Markup("Voir cette page.").tags
    assert _Markup("<strong>Attention : ").errors
    assert not _Markup('<i class="fa fa-info" title="x"/> <br> ok').errors
