"""An invoice goes out in two clicks, in a real browser, and reaches the patient's mailbox."""

from odoo.tests import HttpCase, tagged

from .test_invoice_sending import InvoiceCase

ADDRESS = "invoice.tour@practice.test"  # the address the tour expects to see in the wizard


@tagged("post_install", "-at_install")
class TestInvoiceTours(InvoiceCase, HttpCase):
    def test_send_an_invoice_in_two_clicks(self):
        password = "mcltestsecrettour"
        self.stack.add_user(ADDRESS, password)
        self.doctor.mcl_invoice_template_id = self.template
        self.connect_mailbox(self.doctor, ADDRESS, password, signature="<p>Dr Tour, cabinet</p>")
        invoice = self.make_invoice(salesperson=self.physio)

        self.start_tour(f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
                        "mcl_mailbox_send_invoice_in_two_clicks", login=self.doctor.login)
        # The browser's transaction is the test's: Odoo's after-commit sending does not run,
        # so the mail queue sends it, as the mail cron would.
        self.env["mail.mail"].process_email_queue()

        [received] = self.inbox()
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet")
        self.assertEqual(received["From"].addresses[0].addr_spec, ADDRESS)
        self.assertIn("Dr Tour, cabinet", received.get_body(("html",)).get_content())
        self.assertEqual([part.get_filename() for part in received.iter_attachments()],
                         [invoice._get_invoice_report_filename()])
        self.assertTrue(invoice.is_move_sent)
