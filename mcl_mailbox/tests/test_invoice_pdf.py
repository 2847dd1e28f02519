"""A real PDF, always (issue 12, point 4): what the patient opens is the invoice as a PDF.

Odoo renders reports as HTML under test; ``force_report_rendering`` makes it run wkhtmltopdf, as in
production. The message is read back over IMAP from the patient's mailbox on the local stack, and
its attachment is read with pdftotext (poppler-utils), as the patient's PDF reader shows its text,
and pdffonts, which lists the fonts it embeds. Debian's wkhtmltopdf (Qt not patched) prints the
practice's header and footer only because the add-on puts them in the page (models/ir_actions_report.py),
and has text only with the system font Lato (fonts-lato, static/src/css/report_pdf_fonts.css).
Without wkhtmltopdf (simulated), the send wizard says so before the click and sends nothing.
"""

import logging
import re
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from unittest.mock import ANY, patch

import psutil

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import config
from odoo.tools.misc import formatLang

from ..models.ir_actions_report import PLAIN_MARGIN, wkhtmltopdf_has_patched_qt
from .common import MailboxCase

WKHTMLTOPDF_STATE = "odoo.addons.base.models.ir_actions_report.wkhtmltopdf_state"
ODOO_RUN_WKHTMLTOPDF = "odoo.addons.base.models.ir_actions_report.IrActionsReport._run_wkhtmltopdf"
HAS_PATCHED_QT = "odoo.addons.mcl_mailbox.models.ir_actions_report.wkhtmltopdf_has_patched_qt"
REPORT_LOGGER = "odoo.addons.base.models.ir_actions_report"  # logs what wkhtmltopdf writes on stderr
ALERT = "mcl_mailbox_wkhtmltopdf"
DEADLINE = 60  # seconds for one PDF; it takes about one
TOOLS = {"wkhtmltopdf": "wkhtmltopdf", "pdftotext": "poppler-utils", "pdffonts": "poppler-utils"}  # program: package
# The company's report footer, as the document layout wizard writes it (phone, email, ...), with the
# SIRET number a French invoice must show.
FOOTER = "04 78 00 00 00 cabinet@practice.test SIRET 123 456 789 00012"


def spaces(text):
    """``text`` with its no-break spaces (French thousands and currency separators) as plain spaces."""
    return text.replace("\N{NO-BREAK SPACE}", " ").replace("\N{NARROW NO-BREAK SPACE}", " ")


class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextmanager
def wkhtmltopdf_complaints():
    """What wkhtmltopdf said on stderr while the block ran (Odoo logs it as a warning)."""
    recorder, logger = _Recorder(), logging.getLogger(REPORT_LOGGER)
    logger.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        logger.removeHandler(recorder)


@contextmanager
def wkhtmltopdf_deadline(seconds=DEADLINE):
    """Stop the wkhtmltopdf this test started if it still runs after ``seconds``: it may wait for ever
    for its styles, served by a transaction that waits for a row this test's transaction locks. The
    test then fails rather than hangs the run."""
    def stop():
        for child in psutil.Process().children(recursive=True):
            if child.name() == "wkhtmltopdf":
                child.terminate()

    timer = threading.Timer(seconds, stop)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@tagged("post_install", "-at_install")
class TestInvoicePdf(MailboxCase, HttpCase):
    """A practice in Lyon, in euros, whose patients read French; the doctor sends from her own mailbox.

    An HttpCase: wkhtmltopdf loads the report's styles from the test's HTTP server, which serves
    requests only in test mode while Odoo's own runner runs the tests (it holds the registry's lock).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(["account", "mcl_mailbox"], ["fr_FR"])  # the invoice's own words
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        # A fresh database of odoo-bin's has Odoo's demo data, journal items among them, after which Odoo
        # refuses to change the company's currency: this test's transaction, rolled back, changes it anyway.
        with patch.object(cls.registry["res.company"], "_existing_accounting", return_value=False):
            cls.env.company.write({"street": "12 rue des Tilleuls", "zip": "69003", "city": "Lyon",
                                   "country_id": cls.env.ref("base.fr").id, "currency_id": cls.eur.id,
                                   "report_footer": f"<p>{FOOTER}</p>"})
        cls.doctor.lang = "fr_FR"
        cls.doctor.mcl_invoice_template_id = cls.env["mail.template"].create({
            "name": "Facture patient (Dr Martin)",
            "model_id": cls.env["ir.model"]._get_id("account.move"),
            "subject": "Votre facture {{ object.name }}",
            "email_from": "{{ (object.invoice_user_id.email_formatted or user.email_formatted) }}",
            "partner_to": "{{ object.partner_id.id }}",
            "body_html": '<p>Bonjour, veuillez trouver votre facture <t t-out="object.name"/>.</p>',
        })
        # wkhtmltopdf loads the report's styles and fonts over HTTP: from the test's server, whose port
        # pytest-odoo picks (web.base.url still names the port of the installation).
        cls.env["ir.config_parameter"].sudo().set_param("report.url", f"http://127.0.0.1:{config['http_port']}")

    def setUp(self):
        super().setUp()
        self.patient_address, self.patient_password = self.new_account()
        self.patient = self.env["res.partner"].create({
            "name": "Jeanne Petit", "email": self.patient_address, "lang": "fr_FR",
        })
        self.doctor_address, doctor_password = self.new_account()
        self.connect_mailbox(self.doctor, self.doctor_address, doctor_password)

    # helpers

    def require_tools(self):
        """Fail, never skip, when the server cannot make a PDF or the test cannot read one."""
        for program, package in TOOLS.items():
            if not shutil.which(program):
                self.fail(f"{program} is not installed, so patients get no real PDF (or the test cannot read "
                          f"it): apt-get install {package} (scripts/bootstrap.sh does it when run as root)")
        state = self.env["ir.actions.report"].get_wkhtmltopdf_state()
        self.assertEqual(state, "ok", f"Odoo finds wkhtmltopdf unusable (state {state!r}): no PDF can be made")

    def make_move(self, move_type, *lines):
        """A posted ``move_type`` for the patient, with ``lines`` of (quantity, price_unit, label)."""
        move = self.env["account.move"].create({
            "move_type": move_type,
            "partner_id": self.patient.id,
            "invoice_user_id": self.doctor.id,
            "invoice_date": "2026-03-09",
            "invoice_line_ids": [Command.create({
                "name": label, "quantity": quantity, "price_unit": price_unit, "tax_ids": [Command.clear()],
            }) for quantity, price_unit, label in lines],
        })
        move.action_post()
        return move

    def send_wizard(self, move, **context):
        """The send wizard of ``move`` as the doctor opens it from the invoice (in her language)."""
        return self.env["account.move.send.wizard"].with_user(self.doctor).with_context(
            **{**self.doctor.context_get(), "lang": self.doctor.lang, **context},
            active_model="account.move", active_ids=move.ids,
        ).create({})

    def inbox(self):
        return self.stack.fetch_messages(self.patient_address, self.patient_password)

    def pdf_text(self, pdf):
        result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, timeout=60,
                                check=False)
        self.assertEqual(result.returncode, 0, f"pdftotext cannot read the PDF: {result.stderr.decode()[-500:]}")
        text = spaces(result.stdout.decode())
        self.assertTrue(text.strip(), "the PDF has no text: its letters are drawn as shapes (how wkhtmltopdf "
                                      "prints web fonts), so the patient cannot select, copy, search or have "
                                      "the invoice read aloud, and software reading invoices finds nothing "
                                      "(is Odoo's report font installed as a system font? apt-get install "
                                      "fonts-lato)")
        return text

    def assert_embeds_its_font(self, pdf):
        """The PDF embeds its fonts, Odoo's Lato among them: its letters are text, not shapes."""
        with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
            file.write(pdf)
            file.flush()
            result = subprocess.run(["pdffonts", file.name], capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(result.returncode, 0, f"pdffonts cannot read the PDF: {result.stderr[-500:]}")
        # name, type (may have spaces), encoding, emb, sub, uni, object, ID; after a two-line heading
        fonts = {line.split()[0].split("+")[-1]: line.split()[-5] for line in result.stdout.splitlines()[2:]}
        self.assertTrue(fonts, "the PDF embeds no font: its letters are drawn as shapes")
        self.assertEqual({name for name, embedded in fonts.items() if embedded != "yes"}, set(),
                         "every font of the PDF is in it, so that it reads the same everywhere")
        self.assertTrue([name for name in fonts if name.startswith("Lato")],
                        f"the PDF embeds {sorted(fonts)}, not Odoo's report font Lato: it does not look like "
                        "Odoo's invoice (is fonts-lato installed? apt-get install fonts-lato)")

    def assert_header_and_footer(self, text, title):
        """The practice's header comes first, above the title; its footer comes after the total."""
        company = self.env.company
        first_page = text.split("\f")[0]
        self.assertIn(company.name, first_page, "the practice's name is on the first page")
        self.assertIn(company.street, first_page, "and its address")
        self.assertLess(first_page.find(company.name), first_page.find(title), "above the title: it heads the page")
        self.assertLess(first_page.find(company.street), first_page.find(title))
        self.assertIn(FOOTER, text, "the practice's footer (phone, email, SIRET) is on the invoice")
        self.assertGreater(text.rfind(FOOTER), text.rfind("Total"), "at its end, after the total")
        self.assertNotRegex(text, r"Page\s*/", "no page number left half-printed")

    def french_amount(self, amount):
        """``amount`` as Odoo prints it on the patient's (French) invoice, in the company's currency."""
        return spaces(formatLang(self.env(context={"lang": "fr_FR"}), amount, currency_obj=self.eur))

    def send_real_pdf(self, move):
        """Send ``move`` with the real PDF (wkhtmltopdf): the PDF the patient received."""
        self.require_tools()
        with wkhtmltopdf_complaints() as complaints, wkhtmltopdf_deadline():
            try:
                self.send_wizard(move, force_report_rendering=True).action_send_and_print()
            except UserError as error:
                self.fail(f"no PDF, nothing sent: {error}")
        failures = [line for message in complaints for line in message.splitlines()
                    if re.search(r"error|fail", line, re.IGNORECASE)]
        self.assertFalse(failures, "wkhtmltopdf could not load part of the invoice (styles, fonts, images): "
                                   "the patient gets it unstyled or incomplete")

        [received] = self.inbox()
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address, "from the doctor's mailbox")
        attachments = list(received.iter_attachments())
        self.assertEqual([part.get_filename() for part in attachments], [move._get_invoice_report_filename()],
                         "the patient gets exactly one file, the invoice's PDF")
        [pdf] = attachments
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertIn(move.name.replace("/", "_"), pdf.get_filename(), "the file is named after the invoice")
        self.assertTrue(pdf.get_filename().endswith(".pdf"))
        content = pdf.get_content()
        self.assertTrue(content.startswith(b"%PDF-"), f"not a PDF but {content[:40]!r}")
        self.assertEqual(move.invoice_pdf_report_id.raw, content, "the invoice keeps the PDF the patient got")
        self.assertEqual(move.invoice_pdf_report_id.mimetype, "application/pdf")
        self.assertTrue(move.is_move_sent)
        return content

    def assert_french_document(self, text, title, move, total):
        self.assertRegex(text, rf"{title}\s+{re.escape(move.name)}", "the title and number, as on the invoice")
        self.assertRegex(text, rf"Total\s+{re.escape(total)}", "the total, as French invoices print it")
        self.assertIn("09/03/2026", text, "the date, in the French way")
        company = self.env.company
        self.assertIn(company.name, text, "who the invoice is from: a French invoice names the practice")
        self.assertIn(f"{company.zip} {company.city}", text, "and gives its address")

    # tests

    def test_the_patient_receives_the_invoice_as_a_pdf_in_french(self):
        invoice = self.make_move("out_invoice", (30, 41.15, "Séance de kinésithérapie"))
        total = self.french_amount(invoice.amount_total)
        self.assertEqual(total, "1 234,50 €", "French amounts: decimal comma, grouped thousands, euro after")

        pdf = self.send_real_pdf(invoice)
        text = self.pdf_text(pdf)

        self.assert_french_document(text, "Facture", invoice, total)
        self.assertIn("Séance de kinésithérapie", text)
        self.assert_header_and_footer(text, "Facture")
        self.assert_embeds_its_font(pdf)

    def test_the_patient_receives_the_credit_note_as_a_pdf_in_french(self):
        refund = self.make_move("out_refund", (2, 26.0, "Séance annulée"))
        total = self.french_amount(refund.amount_total)
        self.assertEqual(total, "52,00 €")

        pdf = self.send_real_pdf(refund)
        text = self.pdf_text(pdf)

        self.assert_french_document(text, "Avoir", refund, total)
        self.assertIn("Séance annulée", text)
        self.assert_header_and_footer(text, "Avoir")
        self.assert_embeds_its_font(pdf)

    def test_a_long_invoice_keeps_every_line_its_header_and_its_footer(self):
        labels = [f"Séance de kinésithérapie n° {number:02d}" for number in range(1, 31)]
        invoice = self.make_move("out_invoice", *[(1, 30.0, label) for label in labels])
        total = self.french_amount(invoice.amount_total)
        self.assertEqual(total, "900,00 €")

        pdf = self.send_real_pdf(invoice)
        text = self.pdf_text(pdf)

        pages = text.rstrip("\f").split("\f")
        self.assertGreaterEqual(len(pages), 2, "thirty lines take more than a page")
        self.assertEqual([label for label in labels if text.count(label) != 1], [],
                         "every line is printed once: none lost or repeated at the page break")
        self.assertEqual(sorted(labels, key=text.find), labels, "in the invoice's order")
        self.assert_french_document(text, "Facture", invoice, total)
        self.assert_header_and_footer(text, "Facture")
        self.assertIn(FOOTER, pages[-1], "the footer ends the last page")
        self.assert_embeds_its_font(pdf)

    def test_a_batch_from_the_list_gets_each_patient_their_own_pdf(self):
        """Odoo renders the list's batch in one wkhtmltopdf call; Debian's build refuses more than one document,
        so each invoice gets its own call, and its own PDF, whichever build is installed."""
        self.require_tools()
        invoices = self.env["account.move"].concat(*(
            self.make_move("out_invoice", (1, 30.0 + number, f"Séance n° {number}")) for number in range(3)))
        self.env["account.move.send.batch.wizard"].with_user(self.doctor).with_context(
            active_model="account.move", active_ids=invoices.ids,
        ).create({}).action_send_and_print()
        with wkhtmltopdf_deadline(DEADLINE * 3):
            self.env["account.move"].with_context(force_report_rendering=True)._cron_account_move_send()
        self.assertFalse(invoices.filtered("sending_data"), "the batch went through the send job")
        self.env["mail.mail"].process_email_queue()

        received = {message["Subject"]: message for message in self.inbox()}
        self.assertEqual(len(received), 3, "each patient's email arrived")
        for number, invoice in enumerate(invoices):
            [message] = [message for subject, message in received.items() if invoice.name in subject]
            [pdf] = list(message.iter_attachments())
            self.assertIn(invoice.name.replace("/", "_"), pdf.get_filename())
            text = self.pdf_text(pdf.get_content())
            self.assertIn(f"Séance n° {number}", text, "the patient's own invoice")
            self.assertEqual([other.name for other in invoices - invoice if other.name in text], [],
                             "and nobody else's")
            self.assertEqual(invoice.invoice_pdf_report_id.raw, pdf.get_content())

    def test_wkhtmltopdf_says_whether_its_qt_is_patched(self):
        detect = wkhtmltopdf_has_patched_qt.__wrapped__  # not the answer cached for the process
        for version, patched in [("wkhtmltopdf 0.12.6 (with patched qt)\n", True), ("wkhtmltopdf 0.12.6\n", False)]:
            with patch("subprocess.run", return_value=subprocess.CompletedProcess([], 0, stdout=version, stderr="")):
                self.assertEqual(detect(), patched, version)

    def test_only_a_wkhtmltopdf_without_patched_qt_gets_the_header_in_the_page(self):
        invoice = self.make_move("out_invoice", (1, 30.0, "Consultation"))
        report = self.env.ref("account.account_invoices")
        html = report._render_qweb_html(report.report_name, invoice.ids)[0]
        bodies, _ids, header, footer, paperformat_args = report._prepare_html(html, report_model=report.model)
        company = self.env.company

        def run(patched):
            with (patch(HAS_PATCHED_QT, return_value=patched),
                  patch(ODOO_RUN_WKHTMLTOPDF, autospec=True, return_value=b"%PDF-") as odoo_run):
                self.env["ir.actions.report"]._run_wkhtmltopdf(
                    bodies, report_ref=report.report_name, header=header, footer=footer,
                    specific_paperformat_args=paperformat_args)
            return odoo_run

        run(patched=True).assert_called_once_with(
            ANY, bodies, report_ref=report.report_name, header=header, footer=footer, landscape=False,
            specific_paperformat_args=paperformat_args, set_viewport_size=False,
        )  # what Odoo gives it, unchanged

        positional, arguments = run(patched=False).call_args
        [body] = positional[1]
        self.assertEqual((arguments["header"], arguments["footer"]), (None, None), "no header or footer apart")
        for text in (company.name, company.street, f"{company.zip} {company.city}", FOOTER):
            self.assertIn(text, body, "the header and footer are in the page")
        self.assertLess(body.find(company.street), body.find(invoice.name), "the header above the invoice")
        self.assertGreater(body.find(FOOTER), body.find(invoice.name), "the footer below it")
        self.assertTrue(body.startswith("<!DOCTYPE html>"), "still a standard HTML page, not quirks mode")
        margins = {key: value for key, value in arguments["specific_paperformat_args"].items() if "margin" in key}
        self.assertEqual(margins, {"data-report-margin-top": f"{PLAIN_MARGIN}",
                                   "data-report-margin-bottom": f"{PLAIN_MARGIN}"},
                         "no room kept in the margins for a header and footer that are not printed there")

    def test_without_wkhtmltopdf_the_wizard_says_so_and_sends_nothing(self):
        invoice = self.make_move("out_invoice", (1, 30.0, "Consultation"))
        messages_before = invoice.message_ids
        logins_before = self.stack.smtp_stats()["logins"]

        with patch(WKHTMLTOPDF_STATE, "install"):
            wizard = self.send_wizard(invoice)
            self.assertIn(ALERT, wizard.alerts or {}, "the wizard says before the click that no PDF can be made")
            alert = wizard.alerts[ALERT]
            self.assertEqual(alert["level"], "danger", "a blocking alert")
            self.assertIn("wkhtmltopdf", alert["message"])
            self.assertIn("apt-get install wkhtmltopdf", alert["message"], "what the administrator has to do")
            with self.assertRaises(UserError) as raised:
                wizard.action_send_and_print()
        self.assertIn("apt-get install wkhtmltopdf", str(raised.exception))

        invoice.invalidate_recordset()
        self.assertFalse(self.env["mail.mail"].sudo().search([("model", "=", "account.move"),
                                                               ("res_id", "=", invoice.id)]), "no email queued")
        self.assertEqual(invoice.message_ids, messages_before, "nothing posted on the invoice")
        self.assertFalse(invoice.is_move_sent, "the invoice is not marked as sent")
        self.assertFalse(invoice.invoice_pdf_report_id, "no file stands in for the missing PDF")
        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before, "nothing went to the doctor's server")
        self.assertFalse(self.inbox(), "the patient received nothing")

    def test_the_doctor_reads_that_alert_in_french(self):
        invoice = self.make_move("out_invoice", (1, 30.0, "Consultation"))
        with patch(WKHTMLTOPDF_STATE, "install"):
            french = self.send_wizard(invoice).alerts[ALERT]["message"]
            english = self.send_wizard(invoice, lang="en_US").alerts[ALERT]["message"]
        self.assertEqual(self.doctor.lang, "fr_FR")
        self.assertNotEqual(french, english, "the doctor reads French: the alert is translated")
        self.assertIn("apt-get install wkhtmltopdf", french, "the command stays as it is typed")

    def test_an_invoice_that_has_its_pdf_is_sent_again_without_wkhtmltopdf(self):
        invoice = self.make_move("out_invoice", (1, 30.0, "Consultation"))
        first_pdf = self.send_real_pdf(invoice)

        with patch(WKHTMLTOPDF_STATE, "install"):
            wizard = self.send_wizard(invoice)
            self.assertNotIn(ALERT, wizard.alerts or {}, "the PDF exists: nothing to warn about")
            wizard.action_send_and_print()

        received = self.inbox()
        self.assertEqual(len(received), 2, "the patient got the invoice a second time")
        self.assertEqual([[part.get_content() for part in message.iter_attachments()] for message in received],
                         [[first_pdf]] * 2, "both times the same PDF, and nothing else")
