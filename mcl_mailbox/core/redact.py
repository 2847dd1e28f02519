"""Keep typed passwords out of Odoo's DEBUG log.

At DEBUG level, ``odoo.api`` logs every RPC call with its arguments, so the
values a user types into a password field would be written to the log.  This
filter masks them (the add-on's app password, and Odoo's own ``smtp_pass`` and
``password`` fields) before the record is formatted.
"""

import logging

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


def install(logger_name="odoo.api"):
    """Attach the filter to ``logger_name`` once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
        logger.addFilter(RedactSecrets())
