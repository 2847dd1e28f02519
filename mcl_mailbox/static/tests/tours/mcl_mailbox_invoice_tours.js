/** @odoo-module **/

import { registry } from "@web/core/registry";

// The mailbox address the Python side connects for the practitioner.
const ADDRESS = "invoice.tour@practice.test";

function countClicks() {
    window.mclClicks = 0;
    document.addEventListener("click", () => window.mclClicks++, true);
}

registry.category("web_tour.tours").add("mcl_mailbox_send_invoice_in_two_clicks", {
    steps: () => [
        {
            content: "A posted invoice, ready to send; start counting the user's clicks",
            trigger: ".o_form_view:has(.o_arrow_button_current:contains(Posted)) button[name=action_invoice_sent]",
            run: countClicks,
        },
        {
            content: "Click 1: Send",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_invoice_sent].btn-primary",
            run: "click",
        },
        {
            content: "The wizard shows the practitioner's mailbox",
            trigger: `.modal div[name=mcl_mail_server_id] input:value(${ADDRESS})`,
        },
        {
            content: "Click 2: Send in the wizard",
            trigger: ".modal footer button[name=action_send_and_print]:contains(Send)",
            run: "click",
        },
        {
            content: "The invoice is sent: the email is in the chatter",
            trigger: "body:not(:has(.modal)) .o-mail-Message:contains(veuillez trouver votre facture)",
            run() {
                if (window.mclClicks !== 2) {
                    throw new Error(`Sending took ${window.mclClicks} clicks instead of 2`);
                }
            },
        },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_send_a_selection_in_two_clicks", {
    steps: () => [
        {
            content: "Select every invoice of the list (the selection itself is not counted)",
            trigger: ".o_list_view thead .o_list_record_selector input",
            run: "click",
        },
        {
            content: "The selection is made; start counting the user's clicks",
            trigger: ".o_list_view .o_data_row .o_list_record_selector input:checked",
            run: countClicks,
        },
        {
            content: "Click 1: Send, for the whole selection",
            trigger: ".o_control_panel button[name=action_send_and_print]",
            run: "click",
        },
        {
            content: "Click 2: Send in the batch wizard",
            trigger: ".modal footer button:contains(Send)",
            run: "click",
        },
        {
            content: "The invoices go out in the background",
            trigger: ".o_notification:contains(background)",
            run() {
                if (window.mclClicks !== 2) {
                    throw new Error(`Sending the selection took ${window.mclClicks} clicks instead of 2`);
                }
            },
        },
    ],
});
