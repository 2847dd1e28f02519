"""A patient's reply to an invoice sent from a practitioner's mailbox comes back onto the invoice in Odoo,
and stays unread in the practitioner's own mailbox; nothing else in it is read.

Everything goes through the local stack: the invoice leaves through the doctor's mailbox, the patient
answers from their own mailbox over SMTP, the reply lands in the doctor's INBOX, and the flags are read
back over IMAP as the doctor's mail client would show them.
"""

import contextlib
import imaplib
import re
import smtplib
import socketserver
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from odoo import Command
from odoo.sql_db import db_connect
from odoo.tests import new_test_user, tagged

from .common import DOMAIN
from .hostile_servers import server_tls_context
from .test_invoice_sending import InvoiceCase

# isort: split
from mailstack.testserver import ThreadedTCPServer

PAID = "J'ai payé par virement hier."
RECEIPT = b"%PDF-1.4 avis de virement"
SESSION_TIMEOUT = 6  # seconds: mcl_mailbox.replies_session_timeout in these tests
LOCK_NAMESPACE = 0x6D636C72  # the cron's advisory lock (models/mcl_mailbox_reply_folder.py)


class RepliesCase(InvoiceCase):
    """The doctor's mailbox, an invoice she sent to the patient, and what the patient received."""

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("mcl_mailbox.replies_session_timeout", str(SESSION_TIMEOUT))
        self.mailbox = self.doctor_mailbox()
        self.invoice, self.received = self.send_invoice(self.doctor, self.patient, self.patient_address,
                                                        self.patient_password)
        self.cron = self.env.ref("mcl_mailbox.ir_cron_mcl_mailbox_fetch_replies")

    def send_invoice(self, user, partner, address, password):
        """``user`` sends a new invoice of ``partner``; (invoice, the email as ``address`` received it)."""
        before = {message["Message-ID"] for message in self.stack.fetch_messages(address, password)}
        invoice = self.env["account.move"].create({
            "move_type": "out_invoice", "partner_id": partner.id, "invoice_user_id": user.id,
            "invoice_line_ids": [Command.create({"name": "Consultation", "quantity": 1, "price_unit": 30.0,
                                                 "tax_ids": [Command.clear()]})],
        })
        invoice.action_post()
        self.send_wizard(user, invoice).action_send_and_print()
        [received] = [m for m in self.stack.fetch_messages(address, password) if m["Message-ID"] not in before]
        return invoice, received

    def send_as(self, sender, password, to, body, answering=None, references=None, attachment=None, subject=None):
        """``sender`` writes to ``to`` from their own mail client (SMTP on the stack); return the message."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = to
        message["Subject"] = subject or (f"Re: {answering['Subject']}" if answering else "Une question")
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=DOMAIN)
        if answering is not None:
            message["In-Reply-To"] = answering["Message-ID"]
            message["References"] = " ".join(filter(None, [answering["References"], answering["Message-ID"]]))
        if references:
            message["References"] = references
        message.set_content(body)
        if attachment:
            message.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
        with smtplib.SMTP_SSL("localhost", self.ports["smtps"], context=self.stack.ssl_context()) as smtp:
            smtp.login(sender, password)
            smtp.send_message(message)
        return message

    def reply(self, body=PAID, **values):
        """The patient answers the invoice email from their mailbox; it lands in the doctor's INBOX."""
        return self.send_as(self.patient_address, self.patient_password, self.doctor_address, body,
                          answering=self.received, **values)

    def run_cron(self):
        self.cron.method_direct_trigger()
        self.mailbox.invalidate_recordset()

    def posted(self, message, record=None):
        """The messages in Odoo carrying ``message``'s Message-ID (on ``record`` when given)."""
        domain = [("message_id", "=", message["Message-ID"])]
        if record is not None:
            domain += [("model", "=", record._name), ("res_id", "=", record.id)]
        return self.env["mail.message"].sudo().search(domain)

    def flags(self, address, password, folder="INBOX"):
        """{Message-ID: IMAP flags} of ``folder``, read over IMAP without changing them."""
        with imaplib.IMAP4_SSL("localhost", self.ports["imaps"], ssl_context=self.stack.ssl_context()) as imap:
            imap.login(address, password)
            imap.select(f'"{folder}"', readonly=True)
            _status, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = {}
        for item in data:
            if isinstance(item, tuple):
                message_id = re.search(rb"<[^>]+>", item[1]).group().decode()
                found[message_id] = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
        return found

    def assert_unseen(self, *messages, folder="INBOX"):
        flags = self.flags(self.doctor_address, self.doctor_password, folder)
        for message in messages:
            self.assertIn(message["Message-ID"], flags, "still in the doctor's mailbox")
            self.assertNotIn("\\Seen", flags[message["Message-ID"]], "still unread in the doctor's mailbox")
            self.assertNotIn("\\Deleted", flags[message["Message-ID"]])

    def hostile_mailbox(self, behaviour):
        """A new practitioner's mailbox whose IMAP side is a HostileIMAP server (with the stack's certificate)."""
        tls = self.stack.layout.tls_dir
        server = HostileIMAP(behaviour, server_tls_context(tls / "server.pem", tls / "server.key"))
        self.addCleanup(server.stop)
        address, password = self.new_account()
        self.accounts = {**getattr(self, "accounts", {}), address: password}
        user = new_test_user(self.env, f"mcl_{behaviour}", groups="base.group_user,account.group_account_invoice",
                             email=f"{behaviour}@cabinet.test")
        return server, self.connect_mailbox(user, address, password, imap_port=server.port)


@tagged("post_install", "-at_install")
class TestPatientReplies(RepliesCase):
    def test_the_reply_is_on_the_invoice_once_with_its_attachment_and_author_and_stays_unread(self):
        self.assertTrue(self.mailbox.mcl_replies_enabled, "on by default")
        answer = self.reply(attachment=("avis-de-virement.pdf", RECEIPT))
        unrelated = self.send_as(self.patient_address, self.patient_password, self.doctor_address,
                               "Bonjour docteur, une question sans rapport.")
        not_odoo = self.send_as(self.patient_address, self.patient_password, self.doctor_address, "Re: autre",
                              references="<1234.5678-openerp-99@ailleurs.example>", subject="Re: autre chose")

        # another worker holds the mailbox (its transaction is open): this run leaves it alone
        with contextlib.closing(db_connect(self.env.cr.dbname).cursor()) as other_worker:
            other_worker.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, self.mailbox.id))
            self.assertTrue(other_worker.fetchone()[0])
            self.run_cron()
            self.assertFalse(self.posted(answer))
            self.assertFalse(self.mailbox.mcl_replies_checked_on, "the busy mailbox is left alone")
            other_worker.rollback()

        self.run_cron()

        [posted] = self.posted(answer, self.invoice)
        self.assertIn(PAID, str(posted.body))
        self.assertEqual(posted.message_type, "email")
        self.assertEqual(posted.author_id, self.patient, "written by the patient")
        [attachment] = posted.attachment_ids
        self.assertEqual(attachment.name, "avis-de-virement.pdf")
        self.assertEqual(attachment.raw, RECEIPT)
        self.assertIn(self.doctor.partner_id, posted.notification_ids.res_partner_id, "the sender is notified")
        self.assertFalse(self.posted(unrelated) | self.posted(not_odoo), "nothing else is posted")
        self.assert_unseen(answer, unrelated, not_odoo)
        self.assertTrue(self.mailbox.mcl_replies_checked_on)
        self.assertEqual(self.mailbox.mcl_replies_result, "Replies brought into Odoo: 1")
        self.assertEqual(self.mailbox.mcl_state, "connected")

        # a second run, and a worker that starts from scratch (no folder remembered): nothing more
        self.run_cron()
        self.env["mcl.mailbox.reply.folder"].sudo().search([("mail_server_id", "=", self.mailbox.id)]).unlink()
        self.run_cron()
        self.assertEqual(len(self.posted(answer)), 1, "posted once, whichever worker runs")
        self.assertEqual(self.mailbox.mcl_replies_result, "Replies brought into Odoo: 0")
        self.assert_unseen(answer, unrelated, not_odoo)

    def test_the_switch_off_reads_nothing(self):
        self.mailbox.with_user(self.doctor).action_mcl_toggle_replies()
        self.assertFalse(self.mailbox.mcl_replies_enabled)
        answer = self.reply()
        self.run_cron()
        self.assertFalse(self.posted(answer))
        self.assertFalse(self.mailbox.mcl_replies_checked_on)
        self.mailbox.with_user(self.doctor).action_mcl_toggle_replies()
        self.run_cron()
        self.assertTrue(self.posted(answer, self.invoice))

    def test_only_the_owner_or_an_administrator_turns_the_switch(self):
        for user in (self.secretary, self.physio):
            with self.assertRaisesRegex(Exception, "Only the owner"):
                self.mailbox.with_user(user).action_mcl_toggle_replies()
        self.assertTrue(self.mailbox.mcl_replies_enabled)

    def test_a_reply_that_came_through_the_catchall_appears_once(self):
        first, second = self.reply("Première réponse"), self.reply("Seconde réponse")
        raw = {m["Message-ID"]: m.as_bytes() for m in self.stack.fetch_messages(self.doctor_address,
                                                                                self.doctor_password)}
        # the catchall brought the first one in before the cron...
        self.env["mail.thread"].sudo().message_process(False, raw[first["Message-ID"]])
        self.run_cron()
        # ...and brings the second one after it
        self.assertFalse(self.env["mail.thread"].sudo().message_process(False, raw[second["Message-ID"]]))
        self.assertEqual(len(self.posted(first, self.invoice)), 1)
        self.assertEqual(len(self.posted(second, self.invoice)), 1)
        self.assertEqual(self.mailbox.mcl_replies_result, "Replies brought into Odoo: 1")
        self.assert_unseen(first, second)

    def test_a_renumbered_folder_is_searched_again_without_posting_twice(self):
        old = self.reply("Ancienne réponse")
        self.run_cron()
        [folder] = self.env["mcl.mailbox.reply.folder"].sudo().search([("mail_server_id", "=", self.mailbox.id)])
        self.assertEqual(folder.name, "INBOX")
        # The server renumbers INBOX (UIDVALIDITY changes): the UIDs remembered mean nothing any more.
        folder.write({"uidvalidity": folder.uidvalidity + 1, "last_uid": 10**6})
        new = self.reply("Nouvelle réponse")
        self.run_cron()
        self.assertEqual(len(self.posted(old)), 1)
        self.assertEqual(len(self.posted(new, self.invoice)), 1, "found although its UID is below the old mark")
        self.assertNotEqual(folder.last_uid, 10**6)
        self.assert_unseen(old, new)

    def test_replies_filed_in_all_mail_are_found_there_read_only(self):
        """A Gmail-like server (the local Dovecot cannot mark a folder \\All): INBOX and All Mail hold the reply."""
        server, mailbox = self.hostile_mailbox("gmail")
        user = mailbox.owner_user_id
        user.mcl_invoice_template_id = self.template
        invoice, received = self.send_invoice(user, self.patient, self.patient_address, self.patient_password)
        address, password = mailbox.mcl_email, self.accounts[mailbox.mcl_email]
        answer = self.send_as(self.patient_address, self.patient_password, address, PAID, answering=received)
        [raw] = [m.as_bytes() for m in self.stack.fetch_messages(address, password)
                 if m["Message-ID"] == answer["Message-ID"]]
        unrelated = self.send_as(self.patient_address, self.patient_password, address, "Sans rapport").as_bytes()
        server.folders = {"INBOX": {7: raw}, '"[Gmail]/All Mail"': {3: unrelated, 9: raw}}

        self.run_cron()

        self.assertEqual(len(self.posted(answer, invoice)), 1, "once, though in two folders")
        folders = self.env["mcl.mailbox.reply.folder"].sudo().search([("mail_server_id", "=", mailbox.id)])
        self.assertEqual(folders.mapped("name"), ["INBOX", '"[Gmail]/All Mail"'])
        self.assertEqual(folders.mapped("last_uid"), [7, 9])
        commands = [line.split(b" ", 2)[1:] for line in server.received]
        verbs = {command[0].upper() for command in commands}
        self.assertNotIn(b"SELECT", verbs, "folders are opened read-only (EXAMINE)")
        self.assertFalse(verbs & {b"STORE", b"COPY", b"MOVE", b"EXPUNGE", b"APPEND", b"DELETE"}, verbs)
        fetches = [command[1] for command in commands if command[0].upper() == b"UID" and b"FETCH" in command[1]]
        self.assertTrue(fetches)
        for fetch in fetches:
            self.assertIn(b"BODY.PEEK[", fetch, "never a plain BODY[] or RFC822, which set \\Seen")
        self.assertFalse([f for f in fetches if b"BODY.PEEK[]" in f and b" 3 " in f], "the unrelated mail is not read")

    def test_the_per_run_cap_leaves_the_rest_for_the_next_run(self):
        self.env["ir.config_parameter"].sudo().set_param("mcl_mailbox.replies_per_run", "1")
        first, second = self.reply("Un"), self.reply("Deux")
        self.run_cron()
        self.assertTrue(self.posted(first, self.invoice))
        self.assertFalse(self.posted(second))
        self.assertIn("more at the next check", self.mailbox.mcl_replies_result)
        self.run_cron()
        self.assertTrue(self.posted(second, self.invoice))
        self.assert_unseen(first, second)

    def test_a_revoked_password_needs_attention_and_nothing_is_lost(self):
        answer = self.reply()
        self.stack.add_user(self.doctor_address, self.doctor_password + "-revoked")  # Google revoked it

        self.run_cron()

        self.assertFalse(self.posted(answer))
        self.assertEqual(self.mailbox.mcl_state, "attention")
        self.assertIn("The server refused the login or the password.", self.mailbox.with_user(self.doctor).mcl_diagnosis)
        self.assertNotIn(self.doctor_password, self.mailbox.with_user(self.doctor).mcl_diagnosis)
        self.assertEqual(self.mailbox.mcl_replies_result, "Check failed: see the mailbox's status.")
        checked_on = self.mailbox.mcl_replies_checked_on
        self.run_cron()
        self.assertEqual(self.mailbox.mcl_replies_checked_on, checked_on, "a refused password is not tried again")

        # the doctor creates a new app password and pastes it in the set-up form
        new_password = self.doctor_password + "-new"
        self.stack.add_user(self.doctor_address, new_password)
        action = self.env["mcl.mailbox.setup"].with_user(self.doctor)._action_open(self.mailbox)
        form = self.env["mcl.mailbox.setup"].with_user(self.doctor).browse(action["res_id"])
        form.mcl_password = new_password
        self.assertEqual(form.action_test_and_save().get("tag"), "display_notification", form.diagnosis)
        self.doctor_password = new_password

        self.run_cron()
        self.assertEqual(len(self.posted(answer, self.invoice)), 1, "the reply waited in the mailbox")
        self.assertEqual(self.mailbox.mcl_state, "connected")
        self.assert_unseen(answer)

    def test_imap_turned_off_or_silent_goes_to_the_status_and_passes(self):
        server, mailbox = self.hostile_mailbox("behaves")
        for login_reply, cause in ((b"NO [ALERT] Your account is not enabled for IMAP use.",
                                    "IMAP access is turned off for this account."),
                                   (None, "did not answer within 3 seconds")):
            with self.subTest(cause=cause):
                server.login_reply = login_reply
                server.silent = login_reply is None
                start = time.monotonic()
                self.run_cron()  # never raises
                self.assertLess(time.monotonic() - start, 3 * SESSION_TIMEOUT, "bounded")
                mailbox.invalidate_recordset()
                self.assertEqual(mailbox.mcl_state, "attention")
                self.assertIn(cause, mailbox.mcl_diagnosis)
                self.assertEqual(mailbox.mcl_replies_result, "Check failed: see the mailbox's status.")
                # the provider's IMAP is back: the next run checks again and the status clears
                server.login_reply, server.silent = None, False
                self.run_cron()
                mailbox.invalidate_recordset()
                self.assertEqual(mailbox.mcl_state, "connected")
                self.assertEqual(mailbox.mcl_replies_result, "Replies brought into Odoo: 0")

@tagged("post_install", "-at_install")
class TestPatientRepliesAttacks(RepliesCase):
    """What a patient, a colleague or a hostile server could try."""

    def other_patient(self):
        address, password = self.new_account()
        partner = self.env["res.partner"].create({"name": "Patient Bernard", "email": address})
        invoice, received = self.send_invoice(self.doctor, partner, address, password)
        return partner, invoice, received

    def test_a_patient_forging_references_to_another_patient_invoice_is_ignored(self):
        _other, other_invoice, other_received = self.other_patient()
        before = other_invoice.message_ids | self.invoice.message_ids
        # Odoo's gateway would post on the latest reference it knows: the other patient's invoice
        forged = self.reply("Je lis la facture d'un autre",
                            references=f"{self.received['Message-ID']} {other_received['Message-ID']}")
        only_other = self.reply("Encore", references=other_received["Message-ID"])

        self.run_cron()

        self.assertFalse(self.posted(forged) | self.posted(only_other))
        self.assertEqual(other_invoice.message_ids | self.invoice.message_ids, before)
        self.assert_unseen(forged, only_other)

    def test_a_reply_to_a_colleague_mailbox_email_is_left_to_that_mailbox(self):
        physio_address, physio_password = self.new_account()
        self.connect_mailbox(self.physio, physio_address, physio_password)
        self.physio.mcl_invoice_template_id = self.template
        physio_invoice, physio_received = self.send_invoice(self.physio, self.patient, self.patient_address,
                                                            self.patient_password)
        # the patient answers the physio's email, but to the doctor's address
        misdirected = self.send_as(self.patient_address, self.patient_password, self.doctor_address, "Pour M. Dubois",
                                 answering=physio_received)

        self.run_cron()

        self.assertFalse(self.posted(misdirected), "not brought in from the doctor's mailbox")
        self.assertNotIn(misdirected["Message-ID"], physio_invoice.message_ids.mapped("message_id"))
        self.assert_unseen(misdirected)

    def test_a_colleague_posting_with_the_doctor_address_gets_no_reply_from_her_mailbox(self):
        other = self.make_invoice(salesperson=self.secretary)
        # the secretary writes on her invoice as if she were the doctor (it leaves through the practice server)
        message = other.with_user(self.secretary).message_post(
            body="Bonjour", email_from=self.mailbox.mcl_email, partner_ids=self.patient.ids,
            message_type="comment", subtype_xmlid="mail.mt_comment",
        )
        answer = self.send_as(self.patient_address, self.patient_password, self.doctor_address, "Réponse",
                            references=message.message_id)
        self.run_cron()
        self.assertFalse(self.posted(answer), "the doctor's mail is not shown on the secretary's invoice")

    def test_a_huge_reply_is_not_downloaded(self):
        self.env["ir.config_parameter"].sudo().set_param("mcl_mailbox.replies_max_size", "100000")
        huge = self.reply(attachment=("scan.pdf", b"%PDF-1.4 " + b"x" * 200_000))
        small = self.reply("Petite réponse")
        self.run_cron()
        self.assertFalse(self.posted(huge))
        self.assertTrue(self.posted(small, self.invoice))
        self.assertEqual(self.mailbox.mcl_replies_result,
                         "Replies brought into Odoo: 1; too large, left in the mailbox: 1")
        self.assert_unseen(huge, small)

    def test_a_hostile_imap_server_fails_its_own_mailbox_only(self):
        answer = self.reply()
        for behaviour in ("garbage_search", "huge_literal", "endless_lines"):
            with self.subTest(behaviour=behaviour):
                _server, hostile = self.hostile_mailbox(behaviour)
                start = time.monotonic()
                self.run_cron()
                self.assertLess(time.monotonic() - start, 3 * SESSION_TIMEOUT, "bounded")
                hostile.invalidate_recordset()
                self.assertEqual(hostile.mcl_state, "attention")
                self.assertIn("The server's answer is not what a mail server says.", hostile.mcl_diagnosis)
                self.assertEqual(len(self.posted(answer, self.invoice)), 1, "the other mailbox is checked")
                hostile.unlink()


class HostileIMAP(ThreadedTCPServer):
    """An IMAP server over TLS that passes the set-up test (LOGIN, LIST, EXAMINE), then misbehaves: on UID
    commands as ``behaviour`` says, and on later logins when ``login_reply`` (a refusal) or ``silent`` is set."""

    def __init__(self, behaviour, tls_context):
        self.behaviour = behaviour
        self.tls_context = tls_context
        self.login_reply = None
        self.silent = False
        self.folders = {"INBOX": {}}  # "gmail": {folder name as listed: {uid: raw message}}
        self.received = []  # every command line received
        super().__init__(_HostileSession)


class _HostileSession(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        with contextlib.suppress(OSError, ValueError):
            sock = self.server.tls_context.wrap_socket(self.request, server_side=True)
            if self.server.silent:
                self.server.stopping.wait(2 * SESSION_TIMEOUT)
                return
            sock.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            for line in sock.makefile("rb"):
                tag, _space, rest = line.rstrip(b"\r\n").partition(b" ")
                verb = rest.split(b" ", 1)[0].upper()
                self.server.received.append(line.rstrip(b"\r\n"))
                if self.server.behaviour == "gmail" and verb in (b"LIST", b"EXAMINE", b"SELECT", b"UID"):
                    self.gmail(sock, tag, rest)
                elif verb == b"UID":
                    getattr(self, self.server.behaviour)(sock, tag, rest)
                elif verb == b"LOGIN" and self.server.login_reply:
                    sock.sendall(tag + b" " + self.server.login_reply + b"\r\n")
                else:
                    sock.sendall(self.answer(verb) + tag + b" OK done\r\n")
                if verb == b"LOGOUT":
                    return

    @staticmethod
    def answer(verb):
        return {
            b"CAPABILITY": b"* CAPABILITY IMAP4rev1\r\n",
            b"LIST": b'* LIST (\\HasNoChildren) "/" INBOX\r\n',
            b"SELECT": b"* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n",
            b"EXAMINE": b"* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n",
            b"LOGOUT": b"* BYE bye\r\n",
        }.get(verb, b"")

    def gmail(self, sock, tag, rest):
        """INBOX and "[Gmail]/All Mail" (marked \\All), with the messages of ``server.folders``."""
        verb, _space, arguments = rest.partition(b" ")
        verb = verb.upper()
        if verb == b"LIST":
            sock.sendall(b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
                         b'* LIST (\\HasNoChildren \\All) "/" "[Gmail]/All Mail"\r\n' + tag + b" OK done\r\n")
            return
        if verb in (b"EXAMINE", b"SELECT"):
            self.folder = self.server.folders.get(arguments.decode(), {})
            sock.sendall(b"* OK [UIDVALIDITY 5] ok\r\n" + tag + b" OK [READ-ONLY] done\r\n")
            return
        command, _space, arguments = arguments.partition(b" ")
        if command.upper() == b"SEARCH":
            uids = b" ".join(str(uid).encode() for uid in sorted(self.folder))
            sock.sendall(b"* SEARCH " + uids + b"\r\n" + tag + b" OK done\r\n")
            return
        wanted, _space, items = arguments.partition(b" ")
        for number, uid in enumerate(sorted(self.folder), 1):
            if str(uid).encode() not in wanted.split(b","):
                continue
            raw = self.folder[uid]
            if b"HEADER.FIELDS" in items:
                part = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                head = b"UID %d RFC822.SIZE %d BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM)]" % (
                    uid, len(raw))
            else:
                part, head = raw, b"UID %d BODY[]" % uid
            sock.sendall(b"* %d FETCH (%s {%d}\r\n" % (number, head, len(part)) + part + b")\r\n")
        sock.sendall(tag + b" OK done\r\n")

    @staticmethod
    def behaves(sock, tag, rest):
        sock.sendall((b"* SEARCH\r\n" if b"SEARCH" in rest.upper() else b"") + tag + b" OK done\r\n")

    def garbage_search(self, sock, tag, rest):
        sock.sendall(b"* SEARCH 1 two \xff\xfe 99999999999\r\n" + tag + b" OK done\r\n")

    def huge_literal(self, sock, tag, rest):
        if b"SEARCH" in rest.upper():
            sock.sendall(b"* SEARCH 7\r\n" + tag + b" OK done\r\n")
            return
        sock.sendall(b"* 1 FETCH (UID 7 RFC822.SIZE 10 BODY[HEADER.FIELDS (MESSAGE-ID)] {1500000000}\r\n")
        while not self.server.stopping.is_set():
            sock.sendall(b"A" * 65536)

    def endless_lines(self, sock, tag, rest):
        while not self.server.stopping.is_set():
            sock.sendall(b"* OK still searching\r\n" * 4096)
