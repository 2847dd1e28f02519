{
    "name": "Personal Mailboxes for Practitioners",
    "summary": "Each user connects their own mailbox (app password, encrypted) and sends invoices from it",
    "version": "18.0.1.0.0",
    "category": "Productivity/Discuss",
    "author": "mcl_mailbox contributors",
    "website": "https://github.com/mcl-mailbox/mcl_mailbox",
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["mail", "account"],
    "external_dependencies": {"python": ["cryptography"]},
    "data": [
        "security/ir.model.access.csv",
        "security/mcl_mailbox_security.xml",
        "data/mcl_mailbox_provider_data.xml",
        "data/ir_config_parameter_data.xml",
        "views/mcl_mailbox_provider_views.xml",
        "views/ir_mail_server_views.xml",
        "views/fetchmail_server_views.xml",
        "views/res_users_views.xml",
        "wizards/mcl_mailbox_setup_views.xml",
        "views/mcl_mailbox_menus.xml",
    ],
    "demo": [
        "demo/mcl_mailbox_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "mcl_mailbox/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "application": False,
}
