from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.http import request

from ..models.mcl_mailbox_oauth_mixin import CALLBACK_PATH


class McLMailboxOAuthController(http.Controller):
    @http.route(CALLBACK_PATH, type="http", auth="user", methods=["GET"])
    def mcl_mailbox_oauth_callback(self, state=None, code=None, error=None, error_description=None, **kwargs):
        """Where the provider sends the browser back after the sign-in: only to the set-up form of the
        user who started it, once, within a few minutes; then back to that form."""
        form = request.env["mcl.mailbox.setup"]._mcl_sign_in_form(state)
        if not form:
            raise Forbidden(request.env._(
                "This sign-in link is not valid: it was used already, it is too old, or it belongs to "
                "another user's form. Open your mailbox in Odoo and click the sign-in button again."))
        form._mcl_sign_in_answered(code=code, error=error, error_description=error_description)
        return request.redirect(f"/odoo/action-mcl_mailbox.mcl_mailbox_setup_action/{form.id}")
