"""The patient's email attacked: by a colleague, a delegate, a crafted signature, a chosen Reply-To.

From the review of the patient-email change: each ``test_f*`` is a finding fixed since, each
``test_held_*`` an attack that held. Everything is read back over IMAP from the patient's mailbox.
"""

import subprocess
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from ..models import ir_actions_report as mcl_report
from .test_invoice_sending import SIGNATURE
from .test_patient_email import (
    CATCHALL,
    PHYSIO_SIGNATURE,
    PatientEmailCase,
    html_of,
    text_of,
)

LOGO_SIGNATURE = (f'<p>{SIGNATURE}</p><p><a href="/contactus">Prendre rendez-vous</a>'
                  '<img src="/web/image/res.company/1/logo" alt="logo"></p>')


@tagged("post_install", "-at_install")
class TestPatientEmailAttacks(PatientEmailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contacts = cls.env.ref("base.group_partner_manager")
        (cls.doctor | cls.physio | cls.secretary).write({"groups_id": [Command.link(contacts.id)]})

    # ------------------------------------------------------------------ helpers

    def queue(self):
        self.env.invalidate_all()
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).send()

    def compose(self, user, values, model="res.partner", res_ids=None, mode="comment", **context):
        composer = self.env["mail.compose.message"].with_user(user).with_context(
            default_model=model, default_res_ids=res_ids or self.patient.ids, default_composition_mode=mode,
            **context,
        ).create(values)
        composer.action_send_mail()
        self.queue()
        return composer

    def received(self, subject):
        found = [message for message in self.inbox() if message["Subject"] == subject]
        self.assertEqual(len(found), 1, [m["Subject"] for m in self.inbox()])
        return found[0]

    def froms(self):
        return [m["From"].addresses[0].addr_spec for m in self.inbox()]

    # ------------------------------------------------------------------ F1: signature twice

    def test_f1_a_signature_with_a_link_or_image_is_not_doubled_on_an_invoice(self):
        """A mailbox signature with a relative link/image (what the HTML editor inserts for an uploaded
        logo): the layout puts it after the body, then mail.mail._prepare_outgoing_body makes its links
        absolute, ``str(signature) not in body`` is then true and the signature is appended a second
        time, below the practice's name."""
        self.connect_doctor(signature=LOGO_SIGNATURE)
        received = self.send(self.doctor, self.make_invoice(salesperson=self.doctor))
        for part in (html_of(received), text_of(received)):
            self.assertEqual(part.count(SIGNATURE), 1, part)

    def test_f1b_a_signature_with_a_link_is_not_doubled_in_a_chatter_message(self):
        self.connect_doctor(signature=LOGO_SIGNATURE)
        self.compose(self.doctor, {"subject": "Lien", "body": "<p>Bonjour</p>",
                                   "partner_ids": [Command.link(self.patient.id)]})
        html = html_of(self.received("Lien"))
        self.assertEqual(html.count(SIGNATURE), 1, html)

    # ------------------------------------------------------------------ F2: signature stripping eats the body

    def test_f2_a_colleagues_signature_cannot_delete_text_from_the_doctors_email(self):
        """``_mcl_without_signatures`` removes every occurrence of the signature of every user named on
        the document (salesperson, responsible...), anywhere in the body.  The salesperson chooses their
        own signature: one equal to a fragment of the doctor's text makes it vanish from her email."""
        self.connect_doctor()
        self.doctor.mcl_invoice_template_id = self.env.ref("mcl_mailbox.mail_template_invoice_practice")
        invoice = self.make_invoice(salesperson=self.physio)
        self.physio.with_user(self.physio).write({"signature": f"<strong>{invoice.name}</strong>"})
        html = html_of(self.send(self.doctor, invoice))
        self.assertIn(f"<strong>{invoice.name}</strong>", html,
                      f"stored signature {self.physio.signature!r}: the invoice number was removed")

    def test_f2b_a_short_signature_does_not_eat_a_chatter_message(self):
        self.connect_doctor()
        self.patient.user_id = self.physio  # the patient's salesperson / responsible
        self.physio.signature = "<p>Merci</p>"
        self.compose(self.doctor, {
            "subject": "Rendez-vous", "partner_ids": [Command.link(self.patient.id)],
            "body": "<p>Bonjour,</p><p>Merci</p><p>Votre rendez-vous de demain est confirmé.</p>",
        })
        html = html_of(self.received("Rendez-vous"))
        self.assertIn("Merci", html)
        message = self.patient.message_ids.filtered(lambda m: m.subject == "Rendez-vous")
        self.assertIn("Merci", str(message.body), "the chatter copy was rewritten too")

    # ------------------------------------------------------------------ F3: delegate bypass

    def test_f3_a_delegate_cannot_send_another_practitioners_invoice_through_the_composer(self):
        """SECURITY.md: a delegate sends from a colleague's mailbox only that colleague's invoices, in the
        composer on another practitioner's invoice too (chatter > Send message, the invoice template)."""
        mailbox = self.connect_doctor(delegate_user_ids=[Command.set(self.secretary.ids)])
        invoice = self.make_invoice(salesperson=self.physio)
        composer = self.env["mail.compose.message"].with_user(self.secretary).with_context(
            default_model="account.move", default_res_ids=invoice.ids, default_composition_mode="comment",
            default_template_id=self.stock_template.id,
        ).create({})
        self.assertNotIn(mailbox, composer.mcl_usable_mailbox_ids, "not offered for a colleague's invoice")
        composer.mcl_mail_server_id = mailbox  # as a crafted call would
        with self.assertRaisesRegex(ValidationError, "another practitioner is responsible for it"):
            composer.action_send_mail()
        self.queue()
        self.assertNotIn(self.doctor_address, self.froms(), "the physio's invoice left under the doctor's name")

    def test_f3b_a_delegate_default_mailbox_sends_other_invoices_by_message_post(self):
        mailbox = self.connect_doctor(delegate_user_ids=[Command.set(self.secretary.ids)])
        self.secretary.with_user(self.secretary).mcl_default_mailbox_id = mailbox
        invoice = self.make_invoice(salesperson=self.physio)
        invoice.with_user(self.secretary).message_post(
            body="<p>Votre facture</p>", subject="Facture du kiné", partner_ids=self.patient.ids,
            message_type="comment", subtype_xmlid="mail.mt_comment",
            attachments=[("facture.pdf", b"%PDF-1.4 fake")],
        )
        self.queue()
        self.assertNotIn(self.doctor_address, self.froms())

    # ------------------------------------------------------------------ F4: address leak to colleagues

    def test_f4_a_colleague_cannot_read_the_address_of_anothers_mailbox(self):
        """display_name now carries the address, and many2one values are read with sudo's display_name:
        any user who can read a record pointing to a mailbox reads its address (res.users'
        mcl_default_mailbox_id, a template's mail_server_id, the wizards' onchange)."""
        mailbox = self.connect_doctor()
        self.doctor.with_user(self.doctor).mcl_default_mailbox_id = mailbox
        leaks = {}
        [values] = self.doctor.with_user(self.physio).read(["mcl_default_mailbox_id"])
        leaks["res.users.read"] = str(values["mcl_default_mailbox_id"])
        result = self.env["mail.compose.message"].with_user(self.physio).with_context(
            default_model="res.partner", default_res_ids=self.patient.ids,
        ).onchange({"mcl_mail_server_id": mailbox.id}, ["mcl_mail_server_id"], {"email_from": {}})
        leaks["composer onchange"] = str(result.get("value", {}).get("email_from"))
        self.assertFalse({where: leak for where, leak in leaks.items() if self.doctor_address in leak})

    # ------------------------------------------------------------------ F5: mass mail

    def test_held_a_mass_mail_with_a_layout_is_signed_above_the_footer(self):
        """The in-memory message of a mass mail gets the mailbox author (mail.message defaults), so the
        company's layout choice applies: personal layout, or Odoo's with the signature in place."""
        self.connect_doctor()
        self.env.company.mcl_email_layout = "odoo"
        self.compose(self.doctor, {"subject": "Rappel mis en page", "body": "<p>Bonjour, à demain.</p>"},
                     mode="mass_mail", default_email_layout_xmlid="mail.mail_notification_light")
        html = html_of(self.received("Rappel mis en page"))
        self.assertEqual(html.count(SIGNATURE), 1, html)
        self.assertLess(html.index("Bonjour, à demain."), html.index(SIGNATURE))
        if "Powered by" in html:
            self.assertLess(html.index(SIGNATURE), html.index("Powered by"), "signature below Odoo's footer")

    # ------------------------------------------------------------------ F6: explicit Reply-To

    def test_f6_an_explicit_reply_to_on_the_practice_domain_is_kept(self):
        """The composer's Reply-To is replaced when it is on an alias domain, which is also the practice's
        own mail domain (cabinet-tilleuls.test: secretariat@ is a real mailbox in the demo)."""
        self.connect_doctor()
        chosen = "secretariat@cabinet-tilleuls.test"
        self.compose(self.doctor, {"subject": "Répondre au secrétariat", "body": "<p>Bonjour</p>",
                                   "reply_to_force_new": True, "reply_to": chosen}, mode="mass_mail")
        received = self.received("Répondre au secrétariat")
        self.assertEqual([a.addr_spec for a in received["Reply-To"].addresses], [chosen])

    # ------------------------------------------------------------------ held

    def test_held_an_explicit_reply_to_elsewhere_is_kept(self):
        self.connect_doctor()
        chosen = "rdv@agenda.test"
        self.compose(self.doctor, {"subject": "Agenda", "body": "<p>Bonjour</p>",
                                   "reply_to_force_new": True, "reply_to": chosen}, mode="mass_mail")
        received = self.received("Agenda")
        self.assertEqual([a.addr_spec for a in received["Reply-To"].addresses], [chosen])

    def test_held_a_colleague_forging_the_from_in_the_composer_does_not_use_the_mailbox(self):
        self.connect_doctor()
        logins = self.stack.smtp_stats()["logins"]
        from_ = f"Dr Claire Martin <{self.doctor_address}>"
        for mode in ("comment", "mass_mail"):
            composer = self.env["mail.compose.message"].with_user(self.physio).with_context(
                default_model="res.partner", default_res_ids=self.patient.ids, default_composition_mode=mode,
            ).create({"subject": f"Forgé {mode}", "body": "<p>x</p>", "email_from": from_,
                      "partner_ids": [Command.link(self.patient.id)]})
            composer.action_send_mail()
        self.queue()
        self.assertEqual(self.stack.smtp_stats()["logins"], logins, "the doctor's mailbox logged in")

    def test_held_a_colleague_forging_the_wizard_mailbox_does_not_use_it(self):
        mailbox = self.connect_doctor()
        logins = self.stack.smtp_stats()["logins"]
        invoice = self.make_invoice(salesperson=self.doctor)
        wizard = self.env["account.move.send.wizard"].with_user(self.physio).with_context(
            active_model="account.move", active_ids=invoice.ids).create({})
        self.assertFalse(wizard.mcl_mail_server_id)
        wizard.write({"mcl_mail_server_id": mailbox.id})
        wizard.action_send_and_print()
        self.queue()
        self.assertEqual(self.stack.smtp_stats()["logins"], logins)

    def test_held_a_colleague_cannot_choose_the_doctors_mailbox_anywhere(self):
        mailbox = self.connect_doctor()
        with self.assertRaises(ValidationError):
            self.physio.with_user(self.physio).write({"mcl_default_mailbox_id": mailbox.id})
        with self.assertRaises(AccessError):
            self.doctor.with_user(self.physio).write({"mcl_default_mailbox_id": False})
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.physio).create({"mcl_catchall_routed": True})
        with self.assertRaises(AccessError):
            self.env.company.with_user(self.physio).write({"mcl_email_layout": "odoo"})

    def test_held_regex_like_signatures_are_taken_literally(self):
        self.connect_doctor()
        self.physio.signature = r"<p>(.*)+ [a-z]* \1 $ ^ | \\</p>"
        received = self.send(self.doctor, self.make_invoice(salesperson=self.physio))
        self.assert_signed_once_after(received, "Do not hesitate to contact us")

    def test_held_users_without_mailbox_keep_odoo_author(self):
        self.connect_doctor()
        Partner = self.env["res.partner"].with_user(self.secretary)
        self.assertEqual(Partner._message_compute_author(),
                         (self.secretary.partner_id.id, self.secretary.partner_id.email_formatted))
        # a user posting with someone else's partner as author keeps Odoo's rule too
        self.assertEqual(
            self.env["res.partner"].with_user(self.doctor)._message_compute_author(self.physio.partner_id.id),
            (self.physio.partner_id.id, self.physio.partner_id.email_formatted),
        )

    def test_held_a_draft_incoming_server_does_not_route_the_catchall(self):
        self.connect_doctor()
        self.env["fetchmail.server"].create({
            "name": "Brouillon", "server_type": "imap", "server": "localhost", "port": 993, "is_ssl": True,
            "user": CATCHALL,
        })
        received = self.send(self.doctor, self.make_invoice(salesperson=self.doctor))
        self.assertEqual([a.addr_spec for a in received["Reply-To"].addresses], [self.doctor_address])

    def test_held_a_withdrawn_delegation_stops_the_invoice_wizard(self):
        mailbox = self.connect_doctor(delegate_user_ids=[Command.set(self.secretary.ids)])
        invoice = self.make_invoice(salesperson=self.doctor)
        wizard = self.send_wizard(self.secretary, invoice)
        self.assertEqual(wizard.mcl_mail_server_id, mailbox)
        mailbox.mcl_delegate_user_ids = False
        logins = self.stack.smtp_stats()["logins"]
        wizard.action_send_and_print()
        self.queue()
        self.assertEqual(self.stack.smtp_stats()["logins"], logins)
        self.assertNotIn(PHYSIO_SIGNATURE, "".join(html_of(m) for m in self.inbox()))

    # ------------------------------------------------------------------ PDF helpers (pure)

    def test_held_wkhtmltopdf_version_hanging_or_missing(self):
        mcl_report.wkhtmltopdf_has_patched_qt.cache_clear()
        self.addCleanup(mcl_report.wkhtmltopdf_has_patched_qt.cache_clear)
        with patch.object(mcl_report.subprocess, "run", side_effect=subprocess.TimeoutExpired("w", 30)):
            self.assertTrue(mcl_report.wkhtmltopdf_has_patched_qt())
        mcl_report.wkhtmltopdf_has_patched_qt.cache_clear()
        with patch.object(mcl_report, "_get_wkhtmltopdf_bin", side_effect=OSError("none")):
            self.assertTrue(mcl_report.wkhtmltopdf_has_patched_qt())

    def test_held_header_footer_moving_with_odd_html(self):
        body = "<!DOCTYPE html><html><head></head><body><main><div class='article'>Corps</div></main></body></html>"
        footer_html = ("<html><body><div id='minimal_layout_report_footers'>"
                       "<div class='footer'><div>SIRET 1</div></div></div></body></html>")
        [footer] = mcl_report._parts(footer_html, "minimal_layout_report_footers")
        out = mcl_report._with_header_and_footer(body, None, footer)
        self.assertIn("SIRET 1", out)
        self.assertLess(out.index("Corps"), out.index("SIRET 1"))
        self.assertTrue(out.startswith("<!DOCTYPE html>"))
        empty = "<html><body><div id='minimal_layout_report_footers'><div class='footer'>" \
                "<div>Page <span class='page'></span> / <span class='topage'></span></div></div></div></body></html>"
        [footer] = mcl_report._parts(empty, "minimal_layout_report_footers")
        self.assertNotIn("footer", mcl_report._with_header_and_footer(body, None, footer))
        self.assertEqual(mcl_report._parts("", "x"), [])
        # a fragment body (a report without .article: Odoo joins main's children)
        self.assertIn("SIRET", mcl_report._with_header_and_footer("<div>frag</div>", None,
                      mcl_report._parts(footer_html, "minimal_layout_report_footers")[0]))

    def test_f7_an_old_wkhtmltopdf_is_not_refused(self):
        """'upgrade' (< 0.12.0) still renders in Odoo (only 'install' raises), but the alert is 'danger',
        which the wizard raises: sending is blocked although the PDF could be made."""
        self.connect_doctor()
        invoice = self.make_invoice(salesperson=self.doctor)
        with patch("odoo.addons.base.models.ir_actions_report.wkhtmltopdf_state", "upgrade"):
            alerts = self.send_wizard(self.doctor, invoice).alerts or {}
        self.assertNotEqual(alerts.get("mcl_mailbox_wkhtmltopdf", {}).get("level"), "danger", alerts)

    def test_f8_an_activity_notification_does_not_leave_through_the_mailbox(self):
        """message_notify (activity assigned, mentions...) takes the default mailbox From too: Odoo's own
        notifications to colleagues then go through the practitioner's SMTP (quota, Sent folder, to-dos
        when the mailbox needs attention), in the personal layout."""
        self.connect_doctor()
        logins = self.stack.smtp_stats()["logins"]
        self.patient.with_user(self.doctor).activity_schedule(
            "mail.mail_activity_data_todo", user_id=self.secretary.id, summary="Rappeler la patiente")
        self.queue()
        message = self.env["mail.message"].sudo().search([
            ("model", "=", "res.partner"), ("res_id", "=", self.patient.id), ("message_type", "=", "user_notification"),
        ])
        self.assertTrue(message, "the assignment notification")
        self.assertNotIn(self.doctor_address, message.email_from or "")
        self.assertEqual(self.stack.smtp_stats()["logins"], logins, "sent through the doctor's SMTP")
