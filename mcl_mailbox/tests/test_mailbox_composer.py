"""Every email a practitioner writes leaves from their mailbox, the one they choose: read back over IMAP."""

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .test_invoice_sending import InvoiceCase


@tagged("post_install", "-at_install")
class TestMailboxComposer(InvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contacts = cls.env.ref("base.group_partner_manager")
        (cls.doctor | cls.physio | cls.secretary).write({"groups_id": [Command.link(contacts.id)]})  # they write to patients

    def setUp(self):
        super().setUp()
        self.address, password = self.new_account()
        self.mailbox = self.connect_mailbox(self.doctor, self.address, password)

    def second_mailbox(self):
        self.other_address, password = self.new_account()
        return self.connect_mailbox(self.doctor, self.other_address, password, name="Cabinet (secrétariat)")

    def composer(self, user, mode="comment", **context):
        """The composer ``user`` opens on the patient's contact."""
        return Form(self.env["mail.compose.message"].with_user(user).with_context(
            default_model="res.partner", default_res_ids=self.patient.ids, default_composition_mode=mode, **context,
        ))

    def post(self, composer, subject):
        """Write ``subject`` to the patient in ``composer``, send it, and return the email as received."""
        composer.subject = subject
        composer.body = "<p>Bonjour, voici vos résultats.</p>"
        if composer.composition_mode == "comment":
            composer.partner_ids.add(self.patient)
        composer.save().action_send_mail()
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).send()
        received = [message for message in self.inbox() if message["Subject"] == subject]
        self.assertEqual(len(received), 1, f"the patient received “{subject}” once")
        return received[0]

    def assert_from(self, received, address, name="Dr Claire Martin"):
        self.assertEqual(received["From"].addresses[0].addr_spec, address)
        self.assertEqual(received["From"].addresses[0].display_name, name)

    def test_a_chatter_message_leaves_from_the_mailbox_not_the_odoo_email(self):
        self.assertNotEqual(self.doctor.email, self.address)
        composer = self.composer(self.doctor)
        self.assertEqual(composer.mcl_mail_server_id, self.mailbox, "her only mailbox is preselected")
        self.assertEqual(composer.email_from, f"Dr Claire Martin <{self.address}>")
        logins_before = self.stack.smtp_stats()["logins"]

        received = self.post(composer, "Vos résultats d'analyse")

        self.assert_from(received, self.address)
        self.assertEqual(self.stack.smtp_stats()["logins"], logins_before + 1, "sent through her mailbox")
        message = self.patient.message_ids.filtered(lambda message: message.subject == "Vos résultats d'analyse")
        self.assertEqual(message.author_id, self.doctor.partner_id)

    def test_the_mailbox_replaces_a_template_sender_in_mass_mailing(self):
        template = self.env["mail.template"].create({
            "name": "Rappel de rendez-vous",
            "model_id": self.env["ir.model"]._get_id("res.partner"),
            "subject": "Rappel de votre rendez-vous",
            "email_from": "{{ user.email_formatted }}",
            "partner_to": "{{ object.id }}",
            "body_html": "<p>Bonjour, nous vous attendons demain.</p>",
        })
        composer = self.composer(self.doctor, mode="mass_mail", default_template_id=template.id)
        self.assertEqual(composer.email_from, f"Dr Claire Martin <{self.address}>")
        composer.save().action_send_mail()
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).send()

        [received] = self.inbox()
        self.assertEqual(received["Subject"], "Rappel de votre rendez-vous")
        self.assert_from(received, self.address)

    def test_the_default_mailbox_is_a_preference_and_the_composer_picks_another(self):
        other = self.second_mailbox()
        self.assertEqual(self.doctor._mcl_default_mailbox(), self.mailbox, "without a preference, her first one")
        with Form(self.doctor.with_user(self.doctor), view="base.view_users_form_simple_modif") as preferences:
            preferences.mcl_default_mailbox_id = other
        self.assertEqual(self.doctor.mcl_default_mailbox_id, other)

        composer = self.composer(self.doctor)
        self.assertEqual(composer.mcl_mail_server_id, other)
        self.assert_from(self.post(composer, "Depuis la boîte par défaut"), self.other_address)

        composer = self.composer(self.doctor)
        composer.mcl_mail_server_id = self.mailbox
        self.assertEqual(composer.email_from, f"Dr Claire Martin <{self.address}>")
        self.assert_from(self.post(composer, "Depuis l'autre boîte"), self.address)

    def test_a_delegate_picks_the_owner_mailbox_and_a_colleague_cannot(self):
        self.mailbox.mcl_delegate_user_ids = self.secretary
        self.assertEqual(self.secretary._mcl_usable_mailboxes(), self.mailbox)
        self.assertFalse(self.secretary._mcl_default_mailbox(), "a colleague's mailbox only when she chooses it")
        self.secretary.with_user(self.secretary).write({"mcl_default_mailbox_id": self.mailbox.id})

        composer = self.composer(self.secretary)
        self.assertEqual(composer.mcl_mail_server_id, self.mailbox)
        received = self.post(composer, "De la part du Dr Martin")
        self.assert_from(received, self.address)
        message = self.patient.message_ids.filtered(lambda message: message.subject == "De la part du Dr Martin")
        self.assertEqual(message.author_id, self.secretary.partner_id, "she writes as herself")

        as_physio = self.physio.with_user(self.physio)
        with self.assertRaises(ValidationError) as refused:
            as_physio.write({"mcl_default_mailbox_id": self.mailbox.id})
        self.assertIn("one of your own mailboxes", refused.exception.args[0])
        composer = self.composer(self.physio)
        self.assertFalse(composer.mcl_mail_server_id)
        self.assertFalse(composer.mcl_usable_mailbox_ids, "nothing to choose: the choice is hidden")
        with self.assertRaises(ValidationError) as refused:
            self.env["mail.compose.message"].with_user(self.physio).with_context(
                default_model="res.partner", default_res_ids=self.patient.ids,
            ).create({"subject": "Usurpation", "body": "<p>Bonjour</p>", "mcl_mail_server_id": self.mailbox.id,
                      "partner_ids": [Command.link(self.patient.id)]})
        self.assertIn("only its owner and the colleagues they name", refused.exception.args[0])
        self.assertEqual(len(self.inbox()), 1, "nothing else was sent")

    def test_a_withdrawn_delegation_stops_the_email_at_send(self):
        self.mailbox.mcl_delegate_user_ids = self.secretary
        composer = self.composer(self.secretary)
        composer.mcl_mail_server_id = self.mailbox
        composer.subject = "Message en attente"
        composer.body = "<p>Bonjour</p>"
        composer.partner_ids.add(self.patient)
        wizard = composer.save()
        self.mailbox.mcl_delegate_user_ids = False

        with self.assertRaises(ValidationError) as refused:
            wizard.action_send_mail()
        self.assertIn("only its owner and the colleagues they name", refused.exception.args[0])
        self.assertFalse(self.patient.message_ids.filtered(lambda message: message.subject == "Message en attente"))
        self.assertFalse(self.inbox())

    def test_the_invoice_wizard_offers_the_mailboxes_and_defaults_to_the_preference(self):
        other = self.second_mailbox()
        self.doctor.with_user(self.doctor).mcl_default_mailbox_id = other
        first, second = self.make_invoice(salesperson=self.physio), self.make_invoice(salesperson=self.physio)

        wizard = self.send_wizard(self.doctor, first)
        self.assertEqual(wizard.mcl_usable_mailbox_ids, self.mailbox | other)
        self.assertEqual(wizard.mcl_mail_server_id, other, "the physio has no mailbox she may use: her default")
        self.assertEqual(wizard._get_sending_settings()["mcl_mailbox_id"], other.id)
        wizard.action_send_and_print()

        wizard = self.send_wizard(self.doctor, second)
        wizard.mcl_mail_server_id = self.mailbox
        self.assertEqual(wizard._get_sending_settings()["mcl_mailbox_id"], self.mailbox.id)
        wizard.action_send_and_print()

        received = self.inbox()
        self.assertEqual(len(received), 2)
        [from_default] = [message for message in received if first.name in message["Subject"]]
        [from_picked] = [message for message in received if second.name in message["Subject"]]
        self.assert_from(from_default, self.other_address)
        self.assert_from(from_picked, self.address)
