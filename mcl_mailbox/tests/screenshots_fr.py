"""Screenshots of the French documentation (docs/fr/img/), taken by Chromium from the real UI.

Not part of the test suite: the file name does not match ``test_*.py`` and the package's
``__init__`` does not import it, so neither pytest-odoo nor Odoo's runner collects it.
``make screenshots`` (scripts/screenshots.sh) runs it by path, with MCL_SCREENSHOTS_DIR
set to the output directory.

The tours of static/tests/tours/mcl_mailbox_screenshot_tours.js log
``mcl_screenshot {"name": ..., "clip": ...}`` where a screen is ready; the browser below
captures the page (or the clip) on that signal, saves ``<name>.png`` and only then lets the
tour go on. Gmail's real settings stay in the form: the connection test is redirected to
the local mail stack, on the same port numbers shifted by the stack's port base.
"""

import base64
import dataclasses
import json
import logging
import os
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.mcl_mailbox.core import probe

from .common import REPO, MailboxCase

_logger = logging.getLogger(__name__)

SIGNAL = "mcl_screenshot "
TOUR_TIMEOUT = 240
GMAIL_ADDRESS = "claire.martin@gmail.com"
GMAIL_PASSWORD = "abcdefghijklmnop"  # typed as "abcd efgh ijkl mnop"
ORANGE_ADDRESS = "cabinet.martin@orange.fr"
ORANGE_PASSWORD = "orange-mot-de-passe"


def output_dir():
    return Path(os.environ.get("MCL_SCREENSHOTS_DIR") or REPO / "docs" / "fr" / "img")


class ScreenshotBrowser(ChromeBrowser):
    """Odoo's test browser, which also saves a screenshot when the tour asks for one."""

    saved = []  # paths, in the order taken

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # the names of ChromeBrowser
        value = args[0].get("value") if args else None
        if type == "log" and isinstance(value, str) and value.startswith(SIGNAL):
            request = json.loads(value[len(SIGNAL):])
            self._capture(request["name"], request.get("clip"))
        return super()._handle_console(type, args=args, stackTrace=stackTrace, **kw)

    def _capture(self, name, clip):
        params = {"format": "png"}
        if clip:
            params["clip"] = dict(clip, scale=1)

        def save(future):
            try:
                path = output_dir() / f"{name}.png"
                path.write_bytes(base64.b64decode(future.result()["data"], validate=True))
                self.saved.append(path)
            except Exception:
                _logger.exception("screenshot %s failed", name)
                return  # the tour times out on this step and fails
            self._websocket_send("Runtime.evaluate", params={
                "expression": f"window.mclScreenshots[{json.dumps(name)}] = true",
            })

        self._websocket_send("Page.captureScreenshot", params=params, with_future=True).add_done_callback(save)


@tagged("post_install", "-at_install", "-standard", "mcl_screenshots")
class ScreenshotsFr(MailboxCase, HttpCase):
    browser_size = "1366x768"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        lang = cls.env["res.lang"].with_context(active_test=False).search([("code", "=", "fr_FR")])
        if not lang.active:  # the make target installs French with the database; this is the slow way
            cls.env["res.lang"]._activate_lang("fr_FR")
            cls.env["ir.module.module"].search([("state", "=", "installed")])._update_translations("fr_FR")
        # The module's terms as they are in i18n/fr.po now, even on a database installed before.
        cls.env["ir.module.module"]._load_module_terms(["mcl_mailbox"], ["fr_FR"], overwrite=True)
        (cls.doctor | cls.admin).write({"lang": "fr_FR", "tz": "Europe/Paris"})
        cls.env.ref("base.main_company").name = "Cabinet des Tilleuls"

    def redirected_check_both(self):
        """probe.check_both, connecting to the local stack instead of the provider's servers."""
        real = probe.check_both
        port_base = self.stack.layout.port_base

        def check_both(imap_endpoint, smtp_endpoint, *args, **kwargs):
            def local(endpoint):
                return dataclasses.replace(endpoint, host="localhost", port=port_base + endpoint.port)
            return real(local(imap_endpoint), local(smtp_endpoint), *args, **kwargs)
        return check_both

    def test_screenshots(self):
        out = output_dir()
        out.mkdir(parents=True, exist_ok=True)
        ScreenshotBrowser.saved = []
        self.stack.add_user(GMAIL_ADDRESS, GMAIL_PASSWORD)
        self.stack.add_user(ORANGE_ADDRESS, ORANGE_PASSWORD)
        with patch.object(probe, "check_both", self.redirected_check_both()), \
                patch("odoo.tests.common.ChromeBrowser", ScreenshotBrowser):
            # An older mailbox whose password Orange no longer accepts: "À vérifier" in the list.
            orange = self.connect_mailbox(self.doctor, ORANGE_ADDRESS, ORANGE_PASSWORD, name="Cabinet (Orange)")
            endpoint = probe.Endpoint("smtp.orange.fr", 465, "ssl", ORANGE_ADDRESS, "")
            orange._mcl_record_problem(orange.with_user(self.doctor).with_context(lang="fr_FR")._mcl_explain(
                probe.Diagnosis("smtp", "auth_failed", "535 5.7.8 Authentication failed"), endpoint))

            self.start_tour("/odoo", "mcl_mailbox_screenshots_connect", login=self.doctor.login,
                            timeout=TOUR_TIMEOUT)
            gmail = self.env["ir.mail_server"].sudo().search([("mcl_email", "=", GMAIL_ADDRESS)])
            self.assertEqual(gmail.mcl_state, "connected")
            self.start_tour("/odoo", "mcl_mailbox_screenshots_list", login=self.doctor.login, timeout=TOUR_TIMEOUT)
            # The administrator's presets (docs/fr/administration.md).
            self.start_tour("/odoo/action-mcl_mailbox.mcl_mailbox_provider_action", "mcl_mailbox_screenshots_providers",
                            login=self.admin.login, timeout=TOUR_TIMEOUT)

        self.assertEqual(len(ScreenshotBrowser.saved), 10, ScreenshotBrowser.saved)
        for path in ScreenshotBrowser.saved:
            _logger.info("screenshot saved: %s", path)
