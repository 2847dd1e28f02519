"""What the patient sees: the received invoice email, read back over IMAP, rendered by Chromium.

Issue 12: the sender's signature exactly once, right after the message body, before any footer;
no salesperson signature; no "Powered by Odoo".  The text/html part of the message in the
patient's mailbox is opened in Chromium as a page, and JavaScript checks what a reader sees
(``innerText`` and visible elements, so that hidden parts such as Odoo's preview text do not count).

The page is served by the test itself through ``HttpCase.fetch_proxy`` (the Chromium of Odoo's
``HttpCase`` hands every request outside the test server to it) at a webmail-like address: no
route in the add-on, and no ``Content-Security-Policy``.  Odoo's ``/web/content`` is no good here:
it sends ``Content-Security-Policy: default-src 'none'``, which blocks the email's inline styles
(``display: none`` of the preview included), and stores HTML uploaded by non-administrators as text.
"""

import base64
import json

from odoo.tests import tagged

from .test_invoice_sending import SIGNATURE, InvoiceCase
from .test_tours import TOUR_TIMEOUT, TourCase

# Where Chromium opens the received HTML: outside the test server, so answered by fetch_proxy.
MESSAGE_URL = "https://webmail.patients.test/message.html"
SALESPERSON_SIGNATURE = "Marc Dubois, Masseur-kinésithérapeute"
BODY_END = "Do not hesitate to contact us if you have any questions."  # the stock template's last sentence

# What a reader sees, checked in the page; console.log('test successful') or console.error(reasons).
READER_CHECK = """
(() => {
    const expected = %(expected)s;
    const text = document.body.innerText;
    const occurrences = (needle) => text.split(needle).length - 1;
    const visible = (element) => element.getClientRects().length > 0
        && element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
    // The innermost visible elements showing a text: one per place a reader sees it.
    const shownIn = (needle) => [...document.body.querySelectorAll("*")].filter((element) =>
        element.innerText && element.innerText.includes(needle) && visible(element)
        && ![...element.children].some((child) => child.innerText && child.innerText.includes(needle)));
    const failures = [];

    const signatureCount = occurrences(expected.signature);
    if (signatureCount !== 1) {
        failures.push(`the sender's signature is visible ${signatureCount} times, not once`);
    }
    const signatureElements = shownIn(expected.signature).length;
    if (signatureElements !== 1) {
        failures.push(`${signatureElements} visible elements show the sender's signature, not 1`);
    }
    if (occurrences(expected.salespersonSignature) || occurrences(expected.salespersonTitle)) {
        failures.push("the salesperson's signature is visible");
    }
    if (/powered\\s+by/i.test(text) || /\\bodoo\\b/i.test(text)) {
        failures.push('"Powered by Odoo" (or "Odoo") is visible');
    }
    const odooLinks = [...document.querySelectorAll("a[href*='odoo.com']")].filter(visible).length;
    if (odooLinks) {
        failures.push(`${odooLinks} visible links to odoo.com`);
    }
    const bodyAt = text.indexOf(expected.bodyEnd);
    const signatureAt = text.indexOf(expected.signature);
    if (bodyAt < 0) {
        failures.push("the message body is not visible");
    } else if (signatureAt >= 0) {
        if (signatureAt < bodyAt) {
            failures.push("the sender's signature comes before the message body");
        } else {
            const between = text.slice(bodyAt + expected.bodyEnd.length, signatureAt).trim();
            if (between) {
                failures.push(`between the body and the signature a reader sees: ${JSON.stringify(between)}`);
            }
        }
    }
    if (failures.length) {
        console.error(`The patient's email: ${failures.join("; ")}.\\nWhat a reader sees:\\n${text}`);
    } else {
        console.log("test successful");
    }
})();
"""


@tagged("post_install", "-at_install")
class TestPatientEmailBrowser(InvoiceCase, TourCase):
    received_html = None  # the page fetch_proxy serves at MESSAGE_URL

    def fetch_proxy(self, url):
        if url == MESSAGE_URL and self.received_html is not None:
            return {
                "body": base64.b64encode(self.received_html.encode()).decode(),
                "responseCode": 200,
                "responseHeaders": [
                    {"name": "Content-Type", "value": "text/html; charset=utf-8"},
                    {"name": "Cache-Control", "value": "no-store"},
                ],
            }
        return super().fetch_proxy(url)

    def assert_reader_sees_one_signature(self, html):
        """Open ``html`` in Chromium as a page and check what a reader sees there."""
        self.received_html = html
        expected = {
            "signature": SIGNATURE,
            "salespersonSignature": SALESPERSON_SIGNATURE,
            "salespersonTitle": "Masseur-kinésithérapeute",
            "bodyEnd": BODY_END,
        }
        self.browser_js(MESSAGE_URL, READER_CHECK % {"expected": json.dumps(expected)}, timeout=TOUR_TIMEOUT)

    def test_the_patient_sees_the_sender_signature_once_after_the_body(self):
        self.doctor_mailbox()  # signed SIGNATURE
        self.doctor.mcl_invoice_template_id = False  # connecting may have chosen one: Odoo's stock template
        self.physio.signature = f"<p>{SALESPERSON_SIGNATURE}</p>"
        invoice = self.make_invoice(salesperson=self.physio)  # the stock template signs as the salesperson

        wizard = self.send_wizard(self.doctor, invoice)
        self.assertEqual(wizard.mail_template_id, self.env.ref("account.email_template_edi_invoice"))
        wizard.action_send_and_print()
        self.env["mail.mail"].process_email_queue()  # in case the email waited for the queue

        [received] = self.inbox()
        self.assertEqual(received["From"].addresses[0].addr_spec, self.doctor_address)
        html_part = received.get_body(("html",))
        self.assertIsNotNone(html_part, "the patient's email has an HTML part")
        self.assert_reader_sees_one_signature(html_part.get_content())
