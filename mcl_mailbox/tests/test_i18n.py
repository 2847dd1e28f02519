"""The French translation is complete for the code as it is now, and it loads.

The terms are exported in-process with Odoo's own reader (the one behind --i18n-export), so a
string added to the code, a view or the data without a French translation fails here. To fix:
`bash scripts/i18n_export.sh` (make pot), then translate the new msgstr in i18n/fr.po.
"""

import ast
from pathlib import Path

import polib
from lxml import etree

from odoo.exceptions import UserError
from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools.translate import TranslationModuleReader

MODULE = "mcl_mailbox"
FIX = "run `bash scripts/i18n_export.sh` (make pot) and translate the new entries of mcl_mailbox/i18n/fr.po"


def _demo_xmlids(module_path):
    """External ids the demo data defines: a database with demo data exports their terms too."""
    manifest = ast.literal_eval((module_path / "__manifest__.py").read_text())
    xmlids = set()
    for name in manifest.get("demo", []):
        if name.endswith(".xml"):
            for node in etree.parse(str(module_path / name)).iter("record", "menuitem", "template"):
                if node.get("id"):
                    xmlid = node.get("id")
                    xmlids.add(xmlid if "." in xmlid else f"{MODULE}.{xmlid}")
    return xmlids


@tagged("post_install", "-at_install")
class TestI18n(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.module_path = Path(get_module_path(MODULE))
        cls.pot = {entry.msgid for entry in polib.pofile(str(cls.module_path / "i18n" / f"{MODULE}.pot"))
                   if not entry.obsolete}
        cls.french = {entry.msgid: entry for entry in polib.pofile(str(cls.module_path / "i18n" / "fr.po"))
                      if not entry.obsolete}

    def exported_rows(self, lang=None):
        """(kind, origin, source term, value in lang) as `odoo-bin --i18n-export --modules=mcl_mailbox` sees them."""
        demo = _demo_xmlids(self.module_path)
        for module, kind, name, res_id, source, value, _comments in TranslationModuleReader(
                self.env.cr, modules=[MODULE], lang=lang):
            if module == MODULE and (kind == "code" or res_id not in demo):
                yield kind, f"{kind}:{name}:{res_id}", source, value

    def exported_terms(self):
        """{source term: its origins}"""
        terms = {}
        for _kind, origin, source, _value in self.exported_rows():
            terms.setdefault(source, []).append(origin)
        return terms

    def load_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms([MODULE], ["fr_FR"], overwrite=True)

    def test_every_term_has_a_french_translation(self):
        terms = self.exported_terms()
        self.assertGreater(len(terms), 100, "the export found almost nothing: is the module installed?")
        untranslated = {}
        for source, origins in terms.items():
            entry = self.french.get(source)
            if entry is None or not entry.msgstr.strip() or "fuzzy" in entry.flags:
                untranslated[source] = origins
        if untranslated:
            self.fail("no French translation in i18n/fr.po for:\n" + "\n".join(
                f"  - {source!r} ({', '.join(origins[:2])})" for source, origins in sorted(untranslated.items())
            ) + f"\n{FIX}")

    def test_template_is_up_to_date(self):
        missing = sorted(set(self.exported_terms()) - self.pot)
        if missing:
            self.fail("i18n/mcl_mailbox.pot lacks:\n" + "\n".join(f"  - {s!r}" for s in missing) + f"\n{FIX}")

    def test_french_applies_to_every_record(self):
        """Odoo silently drops a view or HTML term whose translation does not fit: check each one landed."""
        self.load_french()
        dropped = []
        for kind, origin, source, value in self.exported_rows(lang="fr_FR"):
            entry = self.french.get(source)
            if kind == "code" or entry is None or not entry.msgstr or entry.msgstr == source:
                continue
            if value != entry.msgstr:
                dropped.append(f"{origin}: {source!r} gives {value!r}, not {entry.msgstr!r}")
        if dropped:
            self.fail("French terms not applied:\n" + "\n".join(f"  - {line}" for line in dropped))

    def test_french_loads(self):
        self.load_french()
        user = new_test_user(self.env, "mcl_i18n_fr", groups="base.group_user", name="Dr Hélène Roux",
                             email="helene.roux@cabinet.test", lang="fr_FR")
        env_fr = self.env(user=user, context=user.with_user(user).context_get())  # as the web client does
        self.assertEqual(env_fr.lang, "fr_FR")

        # Views: the set-up form the practitioner sees.
        view = self.env.ref("mcl_mailbox.mcl_mailbox_setup_view_form")
        arch = env_fr["mcl.mailbox.setup"].get_views([(view.id, "form")])["views"]["form"]["arch"]
        self.assertIn('string="Tester la connexion et enregistrer"', arch)
        self.assertIn("Libellé de votre boîte mail", env_fr["mcl.mailbox.setup"].fields_get(["name"])["name"]["string"])

        # Data: the provider presets, their notes and their HTML steps (links kept).
        gmail = env_fr.ref("mcl_mailbox.provider_gmail")
        self.assertIn("validation en 2 étapes", gmail.note)
        self.assertIn("Activez la validation en 2 étapes", gmail.setup_steps)
        self.assertIn('href="https://myaccount.google.com/apppasswords"', gmail.setup_steps)
        self.assertEqual(env_fr.ref("mcl_mailbox.provider_manual").name, "Autre (saisie manuelle)")

        # Code: errors raised in the user's language, placeholders filled in.
        form = env_fr["mcl.mailbox.setup"].create({})
        with self.assertRaises(UserError) as caught:
            form.action_test_and_save()
        self.assertEqual(str(caught.exception), "Cochez d'abord la case d'acceptation des conditions d'utilisation.")
        form.write({"terms_accepted": True, "email": "pas-une-adresse"})
        with self.assertRaises(UserError) as caught:
            form.action_prefill()
        self.assertEqual(str(caught.exception), "« pas-une-adresse » n'est pas une adresse email valide.")

        # The same form stays in English for an English-speaking user.
        form_en = form.with_context(lang="en_US")
        with self.assertRaises(UserError) as caught:
            form_en.action_prefill()
        self.assertEqual(str(caught.exception), "“pas-une-adresse” is not a valid email address.")
