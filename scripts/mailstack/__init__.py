"""Local mail stack for the demo and the tests: Dovecot IMAP, aiosmtpd submission, an IMAP replay server."""

from .layout import DEFAULT_PORT_BASE, PORT_OFFSETS, StackError
from .stack import Stack

__all__ = ["DEFAULT_PORT_BASE", "PORT_OFFSETS", "Stack", "StackError"]
