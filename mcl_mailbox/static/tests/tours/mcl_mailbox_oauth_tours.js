/** @odoo-module **/

import { registry } from "@web/core/registry";

// The Outlook-like address the Python side creates on the local identity server.
const ADDRESS = "helene.tour@outlook.test";

registry.category("web_tour.tours").add("mcl_mailbox_sign_in_with_microsoft", {
    url: "/odoo",
    steps: () => [
        { content: "Open the user menu", trigger: ".o_user_menu .dropdown-toggle", run: "click" },
        { content: "Open the preferences", trigger: "[data-menu=settings]", run: "click" },
        { content: "Open the Mailboxes tab", trigger: "a[role=tab]:contains(Mailboxes)", run: "click" },
        { content: "Add a mailbox", trigger: "button[name=action_mcl_add_mailbox]", run: "click" },
        { content: "Accept the terms", trigger: ".modal div[name=terms_accepted] input", run: "click" },
        { content: "Label", trigger: ".modal div[name=name] input", run: "edit Cabinet Outlook" },
        { content: "Address", trigger: ".modal div[name=email] input", run: `edit ${ADDRESS}` },
        { content: "Prefill", trigger: ".modal button[name=action_prefill]", run: "click" },
        {
            content: "No password field for Outlook: the sign-in button instead",
            trigger: ".modal:not(:has(div[name=mcl_password] input)) button.o_mcl_mailbox_sign_in_microsoft",
        },
        {
            content: "Sign in with Microsoft: the identity server's page opens (the person signs in there)",
            trigger: ".modal button.o_mcl_mailbox_sign_in_microsoft",
            run: "click",
        },
        {
            content: "Back in Odoo, on the same form: signed in as the mailbox's address",
            trigger: `.o_mcl_mailbox_signed_in:contains(${ADDRESS})`,
            timeout: 60000,
        },
        {
            content: "What was typed before the sign-in is kept",
            trigger: "div[name=name] input:value(Cabinet Outlook)",
        },
        {
            content: "Test connection and save",
            trigger: ".o_form_statusbar button.o_mcl_mailbox_test_after_sign_in",
            run: "click",
        },
        { content: "Confirmation", trigger: ".o_notification:contains(Mailbox connected)" },
        {
            content: "The user's mailboxes: the new one is connected",
            trigger: ".o_list_view .o_data_row:contains(Cabinet Outlook):contains(Connected)",
        },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_send_invoice_from_outlook", {
    steps: () => [
        {
            content: "Send the posted invoice",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_invoice_sent].btn-primary",
            run: "click",
        },
        {
            content: "The wizard shows the mailbox signed in with Microsoft",
            trigger: `.modal div[name=mcl_mail_server_id] input:value(${ADDRESS})`,
        },
        {
            content: "Send",
            trigger: ".modal footer button[name=action_send_and_print]:contains(Send)",
            run: "click",
        },
        {
            content: "The email is in the chatter",
            trigger: "body:not(:has(.modal)) .o-mail-Message:contains(veuillez trouver votre facture)",
        },
    ],
});
