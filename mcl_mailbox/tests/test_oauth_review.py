"""Hostile review of "Sign in with Microsoft": attacks on the set-up form, the callback and the tokens' life,
each a defence that must hold."""

import base64
import json
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..core import oauth
from .oauth_common import OAuthCase

ATTACKER_TOKEN_URL = "https://attacker.invalid/token"


def id_token(address):
    payload = base64.urlsafe_b64encode(json.dumps({"email": address}).encode()).decode().rstrip("=")
    return f"e30.{payload}.sig"


def token_answer(**values):
    body = {"access_token": "mcltestsecret-forged-access", "refresh_token": "mcltestsecret-forged-refresh",
            "expires_in": 3600, **values}
    return 200, json.dumps(body).encode()


@tagged("post_install", "-at_install")
class TestOAuthReview(OAuthCase):
    def test_a_crafted_password_cannot_send_the_client_secret_to_a_url_of_ones_choice(self):
        """An internal user types, as "app password", tokens naming their own token URL and tries to have them
        taken for a sign-in: the account cannot be written, and tokens from another token URL than the
        configured one are never refreshed (the client secret stays home)."""
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        forged = json.dumps({"kind": oauth.TOKEN_KIND, "access_token": "a", "refresh_token": "r", "expires_at": 0,
                             "account": address, "token_url": ATTACKER_TOKEN_URL})
        form.write({"mcl_password": forged})
        with self.assertRaises(AccessError):
            form.write({"mcl_oauth_account": address})
        form.sudo().mcl_oauth_account = address  # as if another path had set it: the token URL check must hold
        posted = []

        def fake_post(url, form_data, ssl_context, timeout):
            posted.append(url)
            raise oauth.OAuthError("oauth_unavailable", "down")

        with patch.object(oauth, "_post", fake_post), self.assertRaises(UserError) as refused:
            form.action_test_and_save()
        self.assertEqual(posted, [], "the refresh token and client secret were posted to a URL the user chose")
        self.assertIn("Sign in with Microsoft", str(refused.exception))

    def test_the_signed_in_account_cannot_be_written_over_rpc(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        form.write({"mcl_password": "abcdefghijklmnop"})
        for values in ({"mcl_oauth_account": address}, {"mcl_oauth_account": False}):
            with self.assertRaises(AccessError):
                form.write(values)
        form.invalidate_recordset()
        self.assertFalse(form.sudo().mcl_oauth_account, "a password form now claims to be a sign-in")
        mailbox = self.connect_outlook(self.doctor, address, password)
        with self.assertRaises(AccessError):  # else its tokens would be sent as a password
            mailbox.with_user(self.doctor).write({"mcl_oauth_account": False})
        with self.assertRaises(AccessError):
            self.env["mcl.mailbox.setup"].with_user(self.doctor).create({"email": address,
                                                                        "mcl_oauth_account": address})
        self.assertEqual(mailbox.mcl_signed_in_as, address)

    def test_a_refresh_answer_for_another_account_is_refused(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        answer = token_answer(id_token=id_token("someone.else@outlook.test"))
        with patch.object(oauth, "_post", return_value=answer), self.assertRaises(UserError) as refused:
            mailbox._mcl_login_secret(*mailbox._mcl_sealed_endpoints(), force_refresh=True)
        self.assertIn("someone.else@outlook.test", str(refused.exception))
        mailbox.invalidate_recordset()
        self.assertEqual(mailbox.sudo().mcl_oauth_account, address)
        self.assertEqual(self.stored_tokens(mailbox).account, address)

    def test_an_expires_in_that_is_not_a_number_is_explained(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        before = self.stored_tokens(mailbox)
        with patch.object(oauth, "_post", return_value=token_answer(expires_in="soon")), \
                self.assertRaises(UserError) as refused:
            mailbox._mcl_login_secret(*mailbox._mcl_sealed_endpoints(), force_refresh=True)
        self.assertIn("soon", str(refused.exception))
        self.assertEqual(self.stored_tokens(mailbox), before, "a half-understood answer replaced the sign-in")

    def test_a_token_url_redirect_is_not_followed(self):
        address, password = self.new_outlook_account()
        mailbox = self.connect_outlook(self.doctor, address, password)
        before = self.stored_tokens(mailbox)
        with patch.object(oauth, "_post", return_value=(302, b"")), self.assertRaises(UserError):
            mailbox._mcl_login_secret(*mailbox._mcl_sealed_endpoints(), force_refresh=True)
        self.assertEqual(self.stored_tokens(mailbox).refresh_token, before.refresh_token)

    def test_a_colleague_cannot_write_or_read_someone_elses_form(self):
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        with self.assertRaises(AccessError):
            form.with_user(self.physio).write({"mcl_oauth_account": "physio@outlook.test"})
        with self.assertRaises(AccessError):
            form.with_user(self.physio).read(["email"])

    def test_the_nonce_cannot_be_read_or_written_over_rpc(self):
        address, _password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        form.action_mcl_sign_in()
        with self.assertRaises(AccessError):
            form.read(["mcl_oauth_nonce"])
        with self.assertRaises(AccessError):
            form.write({"mcl_oauth_nonce": "known", "mcl_oauth_started": "2026-01-01 00:00:00"})

    def test_changing_the_address_after_signing_in_is_refused_at_save(self):
        address, password = self.new_outlook_account()
        other, _other_password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.write({"email": other})
        with self.assertRaises(UserError):
            form.action_test_and_save()
        self.assertFalse(self.env["ir.mail_server"].sudo().search([("mcl_email", "in", [address, other])]))

    def test_a_password_typed_after_signing_in_replaces_the_sign_in(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        self.sign_in(form, self.doctor, address, password)
        form.write({"mcl_password": "abcd efgh ijkl mnop"})
        form.invalidate_recordset()
        self.assertFalse(form.signed_in_as)
        self.assertEqual(form._mcl_mechanism(), "password")

    def test_a_second_sign_in_voids_the_first_link(self):
        address, password = self.new_outlook_account()
        form = self.oauth_form(self.doctor, address)
        first = self.authorize(form, address, password)
        form.action_mcl_sign_in()
        response = self.come_back(self.doctor, first)
        self.assertEqual(response.status_code, 403)
        form.invalidate_recordset()
        self.assertFalse(form.signed_in_as)
