"""Keep typed passwords and sign-in codes out of Odoo's log.

At DEBUG level, ``odoo.api`` logs every RPC call with its arguments, so the
values a user types into a password field would be written to the log.  This
filter masks them (the add-on's app password, and Odoo's own ``smtp_pass`` and
``password`` fields) before the record is formatted.  The request log
(``werkzeug``) would show the authorization code and state of a sign-in's
callback URL: they are masked too.
"""

import logging
import re

SECRET_KEYS = frozenset({"mcl_password", "smtp_pass", "password"})
MASK = "********"


def redact(value):
    """``value`` with every secret key's value masked, in nested dicts, lists and tuples."""
    if isinstance(value, dict):
        return {key: MASK if key in SECRET_KEYS and item else redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value


def _redact_argument(argument):
    if hasattr(argument, "args") and hasattr(argument, "kwargs"):  # odoo.api.Params
        return type(argument)(redact(argument.args), redact(argument.kwargs))
    return redact(argument)


class RedactSecrets(logging.Filter):
    """A logging filter that masks secret values in a record's arguments."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_argument(argument) for argument in record.args)
        elif isinstance(record.args, dict):
            record.args = redact(record.args)
        return True


_CALLBACK_QUERY = re.compile(r"(/mcl_mailbox/oauth/callback\?)[^\s\"]+")


class RedactCallbackQuery(logging.Filter):
    """A logging filter that masks the query (code, state) of a sign-in callback in request lines."""

    def filter(self, record):
        message = record.getMessage()
        if "/mcl_mailbox/oauth/callback?" in message:
            record.msg, record.args = _CALLBACK_QUERY.sub(rf"\g<1>{MASK}", message), None
        return True


def install(logger_name="odoo.api", request_logger_name="werkzeug"):
    """Attach the filters to Odoo's RPC log and to the request log, once."""
    for name, kind in ((logger_name, RedactSecrets), (request_logger_name, RedactCallbackQuery)):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, kind) for existing in logger.filters):
            logger.addFilter(kind())
