# Copyright 2026 mcl_mailbox contributors
# License LGPL-3.0 (https://www.gnu.org/licenses/lgpl-3.0.html).
import logging

_logger = logging.getLogger(__name__)


def post_init_hook(env):
    """Keep the practice's French chart of accounts.

    On a new database, ``account`` is installed before this add-on makes the main company French, so it
    plans to load its generic chart of accounts on that company once the registry is ready
    (``registry._auto_install_template``, account/models/ir_module.py). The data of this add-on has loaded
    the French chart already, and posted invoices on it: drop that plan, or the generic chart is loaded
    over the French one (and fails on its duplicate account codes).
    """
    if env.ref("base.main_company").chart_template == "fr":
        if vars(env.registry).pop("_auto_install_template", None) is None:
            _logger.warning("account planned no chart of accounts to load (Odoo changed?): check the "
                            "practice's chart, which must stay the French one")
