/** @odoo-module **/

import { registry } from "@web/core/registry";

// InvoiceCase's patient (test_one_click_send.py).
const PATIENT = "Patient Durand";

function countClicks() {
    window.mclClicks = 0;
    document.addEventListener("click", () => window.mclClicks++, true);
}

function assertClicks(expected, what) {
    if (window.mclClicks !== expected) {
        throw new Error(`${what} took ${window.mclClicks} clicks instead of ${expected}`);
    }
}

function sendInOneClick() {
    return [
        {
            content: "A posted invoice, ready to send; start counting the user's clicks",
            trigger: `.o_form_view:has(.o_arrow_button_current:contains(Posted)) button.o_mcl_send_now:contains(Send to ${PATIENT})`,
            run: countClicks,
        },
        {
            content: "Click 1: Send to the patient",
            trigger: `.o_form_view .o_statusbar_buttons button.o_mcl_send_now:contains(${PATIENT})`,
            run: "click",
        },
        {
            content: "Sent: the notification names the patient and offers Undo",
            trigger: `.o_notification.o_mcl_undo_send:contains(Invoice sent to ${PATIENT}) .o_notification_buttons button:contains(Undo)`,
        },
    ];
}

registry.category("web_tour.tours").add("mcl_mailbox_one_click_send", {
    steps: () => [
        ...sendInOneClick(),
        {
            content: "One click, and the invoice shows as sent: its button is gone",
            trigger: ".o_form_view:not(:has(button.o_mcl_send_now))",
            run() {
                assertClicks(1, "Sending an invoice");
            },
        },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_one_click_undo", {
    steps: () => [
        ...sendInOneClick(),
        {
            content: "Changed my mind: Undo",
            trigger: ".o_notification.o_mcl_undo_send .o_notification_buttons button:contains(Undo)",
            run: "click",
        },
        {
            content: "The sending is cancelled, and the invoice can be sent again",
            trigger: ".o_notification:contains(Sending cancelled)",
        },
        {
            content: "The button is back",
            trigger: `.o_form_view button.o_mcl_send_now:contains(${PATIENT})`,
            run() {
                assertClicks(2, "Sending then cancelling");
            },
        },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_one_click_selection", {
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
            content: "Click 1: Send now, for the whole selection",
            trigger: ".o_control_panel button[name=action_mcl_send_now]",
            run: "click",
        },
        {
            content: "Sent: one notification, one Undo for the batch",
            trigger: ".o_notification.o_mcl_undo_send:contains(3 invoices sent) .o_notification_buttons button:contains(Undo)",
            run() {
                assertClicks(1, "Sending the selection");
            },
        },
        {
            content: "Undo the whole batch",
            trigger: ".o_notification.o_mcl_undo_send .o_notification_buttons button:contains(Undo)",
            run: "click",
        },
        {
            content: "The sending is cancelled",
            trigger: ".o_notification:contains(Sending cancelled)",
        },
    ],
});
