"""An invoice goes out in two clicks, in a real browser, and reaches the patient's mailbox."""

from odoo.tests import tagged

from .test_invoice_sending import InvoiceCase
from .test_tours import TOUR_TIMEOUT, TourCase

ADDRESS = "invoice.tour@practice.test"  # the address the tour expects to see in the wizard
DELEGATION_ADDRESS = "delegation.tour@practice.test"  # the doctor's mailbox in the delegation tours


@tagged("post_install", "-at_install")
class TestInvoiceTours(InvoiceCase, TourCase):
    def test_send_an_invoice_in_two_clicks(self):
        password = "mcltestsecrettour"
        self.stack.add_user(ADDRESS, password)
        self.doctor.mcl_invoice_template_id = self.template
        self.connect_mailbox(self.doctor, ADDRESS, password, signature="<p>Dr Tour, cabinet</p>")
        invoice = self.make_invoice(salesperson=self.physio)

        self.start_tour(f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
                        "mcl_mailbox_send_invoice_in_two_clicks", login=self.doctor.login, timeout=TOUR_TIMEOUT)
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

    def test_send_a_selection_in_two_clicks(self):
        password = "mcltestsecrettour"
        self.stack.add_user(ADDRESS, password)
        self.doctor.mcl_invoice_template_id = self.template
        self.connect_mailbox(self.doctor, ADDRESS, password)
        invoices = self.make_invoice(self.doctor) + self.make_invoice(self.physio) + self.make_invoice(self.doctor)

        self.start_tour("/odoo/action-account.action_move_out_invoice_type",
                        "mcl_mailbox_send_a_selection_in_two_clicks", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        while self.env["account.move"].search_count([("id", "in", invoices.ids), ("sending_data", "!=", False)]):
            self.env["account.move"]._cron_account_move_send()  # as the cron does, as the superuser
        self.env["mail.mail"].process_email_queue()

        received = self.inbox()
        self.assertEqual(sorted(message["Subject"] for message in received),
                         sorted(f"Votre facture {name} du cabinet" for name in invoices.mapped("name")))
        self.assertEqual({message["From"].addresses[0].addr_spec for message in received}, {ADDRESS})

    def test_send_as_a_delegate_from_the_doctors_mailbox(self):
        """The doctor names the secretary in her mailbox form; the secretary sends the doctor's invoice."""
        password = "mcltestsecretdelegation"
        self.stack.add_user(DELEGATION_ADDRESS, password)
        self.doctor.mcl_invoice_template_id = self.template
        mailbox = self.connect_mailbox(self.doctor, DELEGATION_ADDRESS, password,
                                       signature="<p>Dr Claire Martin, tour</p>")
        invoice = self.make_invoice(salesperson=self.doctor)

        self.start_tour("/odoo", "mcl_mailbox_name_a_delegate", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        self.assertEqual(mailbox.mcl_delegate_user_ids, self.secretary)
        self.start_tour("/odoo", "mcl_mailbox_delegates_listed", login=self.doctor.login, timeout=TOUR_TIMEOUT)
        self.start_tour(f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
                        "mcl_mailbox_send_as_a_delegate", login=self.secretary.login, timeout=TOUR_TIMEOUT)
        self.env["mail.mail"].process_email_queue()

        [received] = self.inbox()
        self.assertEqual(received["Subject"], f"Votre facture {invoice.name} du cabinet")
        self.assertEqual(received["From"].addresses[0].addr_spec, DELEGATION_ADDRESS)
        self.assertEqual(received["From"].addresses[0].display_name, "Dr Claire Martin")
        self.assertIn("Dr Claire Martin, tour", received.get_body(("html",)).get_content())
