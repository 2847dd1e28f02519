from markupsafe import Markup, escape

from odoo import http
from odoo.http import request

from ..models.mcl_mailbox_oauth_mixin import CALLBACK_PATH

MY_MAILBOXES = "/odoo/action-mcl_mailbox.ir_mail_server_action_my_mailboxes"


class McLMailboxOAuthController(http.Controller):
    @http.route(CALLBACK_PATH, type="http", auth="user", methods=["GET"])
    def mcl_mailbox_oauth_callback(self, state=None, code=None, error=None, error_description=None, **kwargs):
        """Where the provider sends the browser back after the sign-in: only to the set-up form of the
        user who started it, once, within a few minutes; then back to that form."""
        form = request.env["mcl.mailbox.setup"]._mcl_sign_in_form(state)
        if not form:
            return self._refused()
        form._mcl_sign_in_answered(code=code, error=error, error_description=error_description)
        return request.redirect(f"/odoo/action-mcl_mailbox.mcl_mailbox_setup_action/{form.id}")

    def _refused(self):
        """A 403 page in the user's language, with the way back to their mailboxes (no code is used)."""
        env = request.env
        page = Markup(
            '<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
            '<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto"><h1>{title}</h1>'
            '<p>{text}</p><p><a href="{back}">{back_text}</a></p></body></html>'
        ).format(
            lang=escape((env.lang or "en_US").replace("_", "-")),
            title=env._("Sign-in refused"),
            text=env._("This sign-in link is not valid: it was used already, it is too old, or it belongs to "
                       "another user's form. Open your mailbox in Odoo and click the sign-in button again."),
            back=MY_MAILBOXES,
            back_text=env._("Back to my mailboxes"),
        )
        return request.make_response(page, status=403, headers=[("Content-Type", "text/html; charset=utf-8")])
