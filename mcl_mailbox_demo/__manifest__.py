# Copyright 2026 mcl_mailbox contributors
# License LGPL-3.0 (https://www.gnu.org/licenses/lgpl-3.0.html).
{
    "name": "Personal Mailboxes for Practitioners: Demo Practice",
    "summary": "A French practice in euros (Cabinet des Tilleuls, Lyon): practitioners with their mailboxes, "
    "a secretary, patients and posted invoices; for `make run`, on a database without Odoo's demo data",
    "version": "18.0.1.0.0",
    "category": "Productivity/Discuss",
    "author": "mcl_mailbox contributors",
    "website": "https://github.com/mcl-mailbox/mcl_mailbox",
    "license": "LGPL-3",
    "development_status": "Beta",
    # l10n_fr_account: the French chart of accounts (l10n_fr, its dependency, has only the country data).
    "depends": ["mcl_mailbox", "l10n_fr_account"],
    # Data, not demo: this add-on is the demo, installed on a database created without Odoo's demo data.
    "data": [
        "data/res_company_data.xml",
        "data/product_data.xml",
        "data/res_users_data.xml",
        "data/res_partner_data.xml",
        "data/account_move_data.xml",
        "data/ir_mail_server_data.xml",
        "data/outlook_demo_data.xml",
    ],
    "post_init_hook": "post_init_hook",
    "installable": True,
    "application": False,
}
