"""Pure-Python helpers of mcl_mailbox: no Odoo import, testable on their own."""
