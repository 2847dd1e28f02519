/** @odoo-module **/

import { registry } from "@web/core/registry";

// Accounts of the local test mail stack, created by the Python side of each tour.
const ADDRESS = "tour.user@practice.test";
const GOOD_PASSWORD = "abcd efgh ijkl mnop";
const WRONG_PASSWORD = "wrong pass word";
const NEW_PASSWORD = "qrst uvwx yzab cdef";

function openPreferencesMailboxes() {
    return [
        { content: "Open the user menu", trigger: ".o_user_menu .dropdown-toggle", run: "click" },
        { content: "Open the preferences", trigger: "[data-menu=settings]", run: "click" },
        { content: "Open the Mailboxes tab", trigger: "a[role=tab]:contains(Mailboxes)", run: "click" },
    ];
}

function testAndSave() {
    return [{
        content: "Test connection and save",
        trigger: ".modal:not(.o_inactive_modal) button[name=action_test_and_save]",
        run: "click",
    }];
}

registry.category("web_tour.tours").add("mcl_mailbox_add_from_preferences", {
    url: "/odoo",
    steps: () => [
        ...openPreferencesMailboxes(),
        { content: "Add a mailbox", trigger: "button[name=action_mcl_add_mailbox]", run: "click" },
        {
            content: "The form waits for the terms of use",
            trigger: ".modal .o_mcl_mailbox_terms:contains(health)",
        },
        { content: "Accept the terms", trigger: ".modal div[name=terms_accepted] input", run: "click" },
        { content: "Label", trigger: ".modal div[name=name] input", run: "edit Cabinet" },
        { content: "Address", trigger: ".modal div[name=email] input", run: `edit ${ADDRESS}` },
        { content: "Wrong app password first", trigger: ".modal div[name=mcl_password] input", run: `edit ${WRONG_PASSWORD}` },
        { content: "Prefill", trigger: ".modal button[name=action_prefill]", run: "click" },
        {
            content: "The provider's settings are filled in",
            trigger: ".modal div[name=smtp_host] input:value(localhost)",
        },
        {
            content: "Signature",
            trigger: ".modal div[name=signature] .odoo-editor-editable",
            run: "editor Dr Tour, cabinet de test",
        },
        ...testAndSave(),
        {
            content: "The failure says which side and what to do",
            trigger: ".modal .o_mcl_mailbox_diagnosis:contains(What to do)",
        },
        {
            content: "What was typed stays, except the password",
            trigger: ".modal div[name=email] input:value(" + ADDRESS + ")",
        },
        { content: "Type the right app password", trigger: ".modal div[name=mcl_password] input", run: `edit ${GOOD_PASSWORD}` },
        ...testAndSave(),
        { content: "Confirmation", trigger: ".o_notification:contains(Mailbox connected)" },
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_reenter_password", {
    url: "/odoo",
    steps: () => [
        ...openPreferencesMailboxes(),
        {
            content: "The revoked mailbox needs attention",
            trigger: ".modal div[name=mcl_mailbox_ids] .o_data_row:contains(Needs attention)",
        },
        {
            content: "Change it",
            trigger: ".modal div[name=mcl_mailbox_ids] .o_data_row button[name=action_mcl_open_setup]",
            run: "click",
        },
        {
            content: "The settings are kept",
            trigger: ".modal:not(.o_inactive_modal) div[name=email] input:value(" + ADDRESS + ")",
        },
        {
            content: "Re-enter the new app password only",
            trigger: ".modal:not(.o_inactive_modal) div[name=mcl_password] input",
            run: `edit ${NEW_PASSWORD}`,
        },
        ...testAndSave(),
        { content: "Confirmation", trigger: ".o_notification:contains(Mailbox connected)" },
    ],
});
