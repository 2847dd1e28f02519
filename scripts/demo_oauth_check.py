"""Check "Sign in with Microsoft" end to end against the running demo (`make run`), without a browser.

As Dr Hélène Bernard (dr.bernard), over Odoo's JSON-RPC as the web client does: a new mailbox form for
helene.bernard@outlook.fr, Prefill (the demo's local Outlook preset), "Sign in with Microsoft" at the
demo stack's identity server (its sign-in page, filled in as a person would, then Accept), back to
Odoo's callback, "Test connection and save"; then one of her invoices sent in one click, and the
patient's INBOX read over IMAP: the email is from her outlook.fr address, with the invoice's PDF.

    ~/.cache/mcl_mailbox/venv-3.11/bin/python scripts/demo_oauth_check.py [--url http://localhost:8069] [--db mcl_demo] [--ca CA.pem]

Run it on a fresh demo (`MCL_DEMO_RESET=1 make run`): her mailbox is connected once.
"""

import argparse
import email
import email.policy
import imaplib
import os
import ssl
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
# The demo's published throw-away credentials (README, scripts/run_demo.sh).
ODOO_LOGIN = ODOO_PASSWORD = "dr.bernard"  # noqa: S105
ADDRESS, IDP_PASSWORD = "helene.bernard@outlook.fr", "bernard-demo"
PATIENT_PASSWORD = "patient"  # noqa: S105
IMAP_PORT = 10993  # the demo stack's port base is 10000


def check(condition, what, detail=""):
    print(f"{'ok ' if condition else 'FAILED'}  {what}" + (f": {detail}" if detail and not condition else ""))
    if not condition:
        sys.exit(1)


def default_ca():
    """The demo stack's CA, where scripts/env.sh puts the stacks of this clone."""
    stacks = os.environ.get("MCL_STACKS") or subprocess.run(
        ["bash", "-c", 'source "$1" >/dev/null && printf %s "$MCL_STACKS"', "_", str(ROOT / "scripts/env.sh")],
        capture_output=True, text=True, check=True).stdout
    return f"{stacks}/mailstack-demo/ca.pem"


class Odoo:
    """A browser session on Odoo: JSON-RPC calls with its session cookie."""

    def __init__(self, url, db):
        self.url, self.db, self.http, self.context = url, db, requests.Session(), {}

    def rpc(self, path, params):
        answer = self.http.post(urljoin(self.url, path), json={"jsonrpc": "2.0", "method": "call", "params": params},
                                timeout=60).json()
        if answer.get("error"):
            data = answer["error"].get("data") or {}
            raise RuntimeError(data.get("message") or answer["error"])
        return answer["result"]

    def login(self, login, password):
        info = self.rpc("/web/session/authenticate", {"db": self.db, "login": login, "password": password})
        self.context = info["user_context"]
        return info["uid"]

    def call(self, model, method, *args, **kwargs):
        return self.rpc(f"/web/dataset/call_kw/{model}/{method}",
                        {"model": model, "method": method, "args": list(args),
                         "kwargs": {**kwargs, "context": self.context}})


class SignInForm(HTMLParser):
    """The identity server's sign-in form: its action and its hidden fields."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value", "")


def sign_in_at_identity_server(authorize_url, ca):
    """Open the sign-in page, type the address and its password, click Accept: where it redirects to."""
    page = requests.get(authorize_url, verify=ca, timeout=30)
    form = SignInForm()
    form.feed(page.text)
    check(page.status_code == 200 and form.action, "the identity server shows its sign-in page",
          f"HTTP {page.status_code}: {page.text[:300]}")
    answer = requests.post(urljoin(authorize_url, form.action), verify=ca, timeout=30, allow_redirects=False,
                           data={**form.fields, "login": ADDRESS, "password": IDP_PASSWORD, "decision": "accept"})
    check(answer.status_code in (302, 303) and "code=" in answer.headers.get("Location", ""),
          f"signed in as {ADDRESS}: redirected back to Odoo with a code", f"HTTP {answer.status_code}: {answer.text[:300]}")
    return answer.headers["Location"]


def inbox_uids(address, ca):
    with imaplib.IMAP4_SSL("localhost", IMAP_PORT, ssl_context=ssl.create_default_context(cafile=ca)) as imap:
        imap.login(address, PATIENT_PASSWORD)
        imap.select("INBOX", readonly=True)
        return set(imap.uid("SEARCH", None, "ALL")[1][0].split())


def new_messages(address, ca, known):
    with imaplib.IMAP4_SSL("localhost", IMAP_PORT, ssl_context=ssl.create_default_context(cafile=ca)) as imap:
        imap.login(address, PATIENT_PASSWORD)
        imap.select("INBOX", readonly=True)
        uids = set(imap.uid("SEARCH", None, "ALL")[1][0].split()) - known
        return [email.message_from_bytes(imap.uid("FETCH", uid, "(BODY.PEEK[])")[1][0][1], policy=email.policy.default)
                for uid in sorted(uids, key=int)]


def connect_mailbox(odoo, ca):
    """As Dr Bernard: the set-up form, Prefill, Sign in with Microsoft, Test connection and save."""
    uid = odoo.login(ODOO_LOGIN, ODOO_PASSWORD)
    check(bool(uid), f"logged in to {odoo.url} as {ODOO_LOGIN}")
    check(not odoo.call("ir.mail_server", "search", [("mcl_email", "=", ADDRESS)]),
          f"{ADDRESS} is not connected yet (a fresh demo: MCL_DEMO_RESET=1 make run)")

    # The set-up form, as Preferences > Mailboxes > Add a mailbox opens it.
    form_id = odoo.call("mcl.mailbox.setup", "create",
                        {"terms_accepted": True, "name": "Ma boîte Outlook", "email": ADDRESS})
    form_id = form_id[0] if isinstance(form_id, list) else form_id
    odoo.call("mcl.mailbox.setup", "action_prefill", [form_id])
    values = odoo.call("mcl.mailbox.setup", "read", [form_id],
                       ["mcl_provider_id", "imap_host", "imap_port", "smtp_host", "smtp_port", "login", "sign_in_ready"])[0]
    check(values["imap_host"] == "localhost" and values["imap_port"] == IMAP_PORT
          and values["smtp_host"] == "localhost" and values["smtp_port"] in (10587, 10465),
          f"Prefill picked the local preset {values['mcl_provider_id'] and values['mcl_provider_id'][1]!r}: "
          f"IMAP {values['imap_host']}:{values['imap_port']}, SMTP {values['smtp_host']}:{values['smtp_port']}",
          str(values))
    check(values["sign_in_ready"], "the demo application is configured (Odoo's Outlook credentials)")

    # "Sign in with Microsoft": the browser goes to the identity server, then back to Odoo's callback.
    action = odoo.call("mcl.mailbox.setup", "action_mcl_sign_in", [form_id])
    check(action.get("type") == "ir.actions.act_url", f"Sign in with Microsoft opens {action.get('url', '')[:60]}…")
    callback = sign_in_at_identity_server(action["url"], ca)
    check(callback.startswith(urljoin(odoo.url, "/mcl_mailbox/oauth/callback")),
          f"the redirect URI is Odoo's callback ({urlsplit(callback).path})", callback)
    back = odoo.http.get(callback, allow_redirects=False, timeout=60)
    location = back.headers.get("Location", "")
    check(back.status_code in (302, 303) and location.endswith(f"/odoo/action-mcl_mailbox.mcl_mailbox_setup_action/{form_id}"),
          "the callback took the tokens and sends the browser back to the form", f"HTTP {back.status_code} {location}")
    state = odoo.call("mcl.mailbox.setup", "read", [form_id], ["signed_in_as", "diagnosis"])[0]
    check(state["signed_in_as"] == ADDRESS and not state["diagnosis"], f"the form is signed in as {ADDRESS}",
          str(state))

    # "Test connection and save": IMAP and SMTP with XOAUTH2.
    saved = odoo.call("mcl.mailbox.setup", "action_test_and_save", [form_id])
    diagnosis = odoo.call("mcl.mailbox.setup", "read", [form_id], ["diagnosis"])[0]["diagnosis"]
    check(saved.get("tag") == "display_notification", "Test connection and save: mailbox connected",
          diagnosis or str(saved))
    mailbox = odoo.call("ir.mail_server", "search_read", [("mcl_email", "=", ADDRESS)], ["mcl_state", "mcl_signed_in_as"])
    check(len(mailbox) == 1 and mailbox[0]["mcl_state"] == "connected", "her mailbox is connected", str(mailbox))
    return uid


def send_invoice(odoo, uid, ca, timeout):
    """One of her invoices sent in one click; the patient's INBOX then holds it, from her, with its PDF."""
    # One of her invoices, sent in one click (the invoice's "Send to …" button).
    invoices = odoo.call("account.move", "search_read",
                         [("invoice_user_id", "=", uid), ("move_type", "=", "out_invoice"), ("state", "=", "posted"),
                          ("is_move_sent", "=", False)], ["name", "partner_id"], limit=1)
    check(bool(invoices), "Dr Bernard has an invoice to send")
    invoice = invoices[0]
    patient = odoo.call("res.partner", "read", [invoice["partner_id"][0]], ["email"])[0]["email"]
    known = inbox_uids(patient, ca)
    sent = odoo.call("account.move", "action_mcl_send_now", [invoice["id"]])
    check(sent.get("tag") == "mcl_mailbox_undo_send", f"{invoice['name']} sent in one click to {patient}", str(sent))

    print(f"...     waiting for the email (the Undo delay, then Odoo's mail queue cron; up to {timeout} s)")
    deadline, messages = time.monotonic() + timeout, []
    while time.monotonic() < deadline and not messages:
        time.sleep(3)
        messages = [message for message in new_messages(patient, ca, known) if invoice["name"] in message["Subject"]]
    check(len(messages) == 1, f"{patient}'s INBOX holds one new email about {invoice['name']}",
          f"{len(messages)} found")
    message = messages[0]
    senders = [address.addr_spec.lower() for address in message["From"].addresses]
    check(senders == [ADDRESS], f"From: {message['From']}", str(senders))
    pdfs = [part.get_filename() for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    check(len(pdfs) == 1, f"the invoice's PDF is attached: {pdfs[0] if pdfs else None}", str(pdfs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8069", help="the demo's Odoo (its web.base.url)")
    parser.add_argument("--db", default="mcl_demo")
    parser.add_argument("--ca", default=None, help="the demo stack's ca.pem (default: the one of this clone)")
    parser.add_argument("--timeout", type=int, default=180, help="seconds to wait for the email")
    args = parser.parse_args()
    ca = args.ca or default_ca()
    check(Path(ca).is_file(), f"the demo stack's CA is {ca}")
    odoo = Odoo(args.url, args.db)
    uid = connect_mailbox(odoo, ca)
    send_invoice(odoo, uid, ca, args.timeout)
    print("all checks passed")


if __name__ == "__main__":
    main()
