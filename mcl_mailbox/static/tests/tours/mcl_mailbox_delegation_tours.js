/** @odoo-module **/

import { registry } from "@web/core/registry";

// The doctor's mailbox address and the secretary's name, set up by the Python side (test_invoice_tours.py).
const ADDRESS = "delegation.tour@practice.test";
const SECRETARY = "Sophie Laurent";

function openPreferencesMailboxes() {
    return [
        { content: "Open the user menu", trigger: ".o_user_menu .dropdown-toggle", run: "click" },
        { content: "Open the preferences", trigger: "[data-menu=settings]", run: "click" },
        { content: "Open the Mailboxes tab", trigger: "a[role=tab]:contains(Mailboxes)", run: "click" },
    ];
}

registry.category("web_tour.tours").add("mcl_mailbox_name_a_delegate", {
    url: "/odoo",
    steps: () => [
        ...openPreferencesMailboxes(),
        {
            content: "Change the mailbox",
            trigger: `.modal div[name=mcl_mailbox_ids] .o_data_row:contains(${ADDRESS}) button[name=action_mcl_open_setup]`,
            run: "click",
        },
        {
            content: "Name the secretary among the colleagues who may send from it",
            trigger: ".modal:not(.o_inactive_modal) div[name=delegate_user_ids] input",
            run: "edit Sophie",
        },
        {
            content: "Pick her",
            trigger: `.modal:not(.o_inactive_modal) div[name=delegate_user_ids] .o-autocomplete--dropdown-item a:contains(${SECRETARY})`,
            run: "click",
        },
        {
            content: "She is named",
            trigger: `.modal:not(.o_inactive_modal) div[name=delegate_user_ids] .o_tag:contains(${SECRETARY})`,
        },
        {
            content: "Test connection and save (the stored app password is kept)",
            trigger: ".modal:not(.o_inactive_modal) button[name=action_test_and_save]",
            run: "click",
        },
        { content: "Confirmation", trigger: ".o_notification:contains(Mailbox connected)" },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_delegates_listed", {
    url: "/odoo",
    steps: () => [
        ...openPreferencesMailboxes(),
        {
            content: "The mailbox lists the colleagues who may send from it",
            trigger: `.modal div[name=mcl_mailbox_ids] .o_data_row:contains(${ADDRESS}):contains(${SECRETARY})`,
        },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_send_as_a_delegate", {
    steps: () => [
        {
            content: "The doctor's posted invoice: Send",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_invoice_sent].btn-primary",
            run: "click",
        },
        {
            content: "The wizard shows the doctor's mailbox",
            trigger: `.modal div[name=mcl_mail_server_id] input:value(${ADDRESS})`,
        },
        {
            content: "and on whose behalf the secretary sends",
            trigger: ".modal .o_mcl_sent_from_hint:contains(Dr Claire Martin)",
        },
        {
            content: "Send",
            trigger: ".modal footer button[name=action_send_and_print]:contains(Send)",
            run: "click",
        },
        {
            content: "The invoice is sent: the email is in the chatter",
            trigger: "body:not(:has(.modal)) .o-mail-Message:contains(veuillez trouver votre facture)",
        },
    ],
});
