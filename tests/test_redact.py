"""Typed passwords are masked in log records."""

import logging

from mcl_core import redact


class Params:  # the shape of odoo.api.Params
    def __init__(self, args, kwargs):
        self.args, self.kwargs = args, kwargs

    def __str__(self):
        return repr(self.args) + repr(self.kwargs)


def test_nested_secret_values_are_masked():
    values = {"name": "x", "mcl_password": "abcd efgh", "lines": [(0, 0, {"mcl_password": "deep"})]}
    masked = redact.redact(values)
    assert "abcd" not in repr(masked)
    assert "deep" not in repr(masked)
    assert masked["name"] == "x"
    assert masked["mcl_password"] == redact.MASK
    assert values["mcl_password"] == "abcd efgh", "the caller's values are untouched"


def test_odoos_own_password_fields_are_masked():
    values = {"smtp_pass": "plain-smtp-pw", "password": "user-or-fetchmail-pw", "smtp_user": "doc@example.com"}
    masked = redact.redact([values])
    assert "plain-smtp-pw" not in repr(masked)
    assert "user-or-fetchmail-pw" not in repr(masked)
    assert masked[0]["smtp_user"] == "doc@example.com"


def test_an_empty_password_stays_visibly_empty():
    assert redact.redact({"mcl_password": False}) == {"mcl_password": False}


def test_the_filter_masks_odoo_api_call_records(caplog):
    logger = logging.getLogger("test.mcl.redact")
    logger.addFilter(redact.RedactSecrets())
    with caplog.at_level(logging.DEBUG, logger="test.mcl.redact"):
        logger.debug("call %s.%s(%s)", "mcl.mailbox.setup()", "create",
                     Params(({"mcl_password": "s3cret-app-pw"},), {"context": {}}))
    assert "s3cret-app-pw" not in caplog.text
    assert "create" in caplog.text


def test_install_attaches_one_filter():
    redact.install("test.mcl.install")
    redact.install("test.mcl.install")
    filters = logging.getLogger("test.mcl.install").filters
    assert sum(isinstance(item, redact.RedactSecrets) for item in filters) == 1


def test_callback_query_is_masked_in_request_lines(caplog):
    logger = logging.getLogger("test.mcl.requests")
    logger.addFilter(redact.RedactCallbackQuery())
    with caplog.at_level(logging.INFO, logger="test.mcl.requests"):
        logger.info('%s - - [%s] "%s" %s', "127.0.0.1", "now",
                    "GET /mcl_mailbox/oauth/callback?code=mcltestsecret-code&state=12.mcltestsecret-nonce HTTP/1.1", 303)
        logger.info('"%s" %s', "GET /odoo/action-mcl_mailbox.mcl_mailbox_setup_action/12 HTTP/1.1", 200)
    assert "mcltestsecret" not in caplog.text
    assert "GET /mcl_mailbox/oauth/callback?******** HTTP/1.1\" 303" in caplog.text
    assert "/odoo/action-mcl_mailbox.mcl_mailbox_setup_action/12" in caplog.text
