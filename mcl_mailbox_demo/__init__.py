# Copyright 2026 mcl_mailbox contributors
# License LGPL-3.0 (https://www.gnu.org/licenses/lgpl-3.0.html).
from .hooks import post_init_hook
