/** @odoo-module **/

// Tours that walk the French documentation's screens (docs/fr/): run only by
// mcl_mailbox/tests/screenshots_fr.py (`make screenshots`), which listens for the
// "mcl_screenshot" console signal, captures the page and then lets the tour go on.

import { registry } from "@web/core/registry";

const ADDRESS = "claire.martin@gmail.com";
const WRONG_PASSWORD = "abcd efgh ijkl mnoz";
const GOOD_PASSWORD = "abcd efgh ijkl mnop";
const ACTIVE_MODAL = ".modal:not(.o_inactive_modal)";

/**
 * A step that waits for `trigger`, lets the page settle, asks the Python side for a
 * screenshot named `name` (of `clip`, a selector, else the whole window) and waits
 * until it is saved.
 */
function screenshot(name, trigger, clip = null, { blur = true } = {}) {
    return {
        content: `Screenshot ${name}`,
        trigger,
        async run() {
            window.mclScreenshots = window.mclScreenshots || {};
            if (blur) {
                document.activeElement?.blur();
            }
            await new Promise((resolve) => setTimeout(resolve, 600)); // animations, fonts
            let rect = null;
            if (clip) {
                const box = document.querySelector(clip).getBoundingClientRect();
                const margin = 0;
                rect = {
                    x: Math.max(0, Math.floor(box.left) - margin),
                    y: Math.max(0, Math.floor(box.top) - margin),
                    width: Math.ceil(box.width) + 2 * margin,
                    height: Math.ceil(box.height) + 2 * margin,
                };
            }
            console.log(`mcl_screenshot ${JSON.stringify({ name, clip: rect })}`);
            const start = Date.now();
            while (!window.mclScreenshots[name]) {
                if (Date.now() - start > 30000) {
                    throw new Error(`screenshot ${name} was not taken`);
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        },
    };
}

function openPreferencesMailboxes() {
    return [
        { content: "Open the user menu", trigger: ".o_user_menu .dropdown-toggle", run: "click" },
        { content: "Open the preferences", trigger: "[data-menu=settings]", run: "click" },
        {
            content: "Open the Mailboxes tab",
            trigger: ".modal a[role=tab]:contains(Boîtes mail)",
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("mcl_mailbox_screenshots_connect", {
    url: "/odoo",
    steps: () => [
        ...openPreferencesMailboxes(),
        screenshot(
            "01-preferences-boites-mail",
            ".modal button[name=action_mcl_add_mailbox]:contains(Ajouter une boîte mail)"
        ),
        { content: "Add a mailbox", trigger: ".modal button[name=action_mcl_add_mailbox]", run: "click" },
        screenshot(
            "02-conditions",
            `${ACTIVE_MODAL} .o_mcl_mailbox_terms:contains(données de santé)`,
            `${ACTIVE_MODAL} .modal-content`
        ),
        {
            content: "Accept the terms",
            trigger: `${ACTIVE_MODAL} div[name=terms_accepted] input`,
            run: "click",
        },
        screenshot(
            "03-choisir-le-fournisseur",
            `${ACTIVE_MODAL} .o_mcl_mailbox_guidance_hint:visible`,
            `${ACTIVE_MODAL} .modal-content`
        ),
        {
            content: "Choose Gmail",
            trigger: `${ACTIVE_MODAL} div[name=mcl_provider_id] input`,
            run: "edit Gmail",
        },
        {
            content: "Pick it in the list",
            trigger: ".o-autocomplete--dropdown-item a:contains(Gmail)",
            run: "click",
        },
        {
            content: "Show the provider and its steps",
            trigger: `${ACTIVE_MODAL} .o_mcl_mailbox_guidance:contains(validation en 2 étapes)`,
            run() {
                document
                    .querySelector(`${ACTIVE_MODAL} div[name=mcl_provider_id]`)
                    .scrollIntoView({ block: "start" });
            },
        },
        screenshot(
            "04-etapes-gmail",
            `${ACTIVE_MODAL} .o_mcl_mailbox_guidance:contains(validation en 2 étapes)`,
            `${ACTIVE_MODAL} .modal-content`
        ),
        { content: "Label", trigger: `${ACTIVE_MODAL} div[name=name] input`, run: "edit Dr Claire Martin" },
        { content: "Address", trigger: `${ACTIVE_MODAL} div[name=email] input`, run: `edit ${ADDRESS}` },
        {
            content: "An app password with a typo",
            trigger: `${ACTIVE_MODAL} div[name=mcl_password] input`,
            run: `edit ${WRONG_PASSWORD}`,
        },
        { content: "Prefill", trigger: `${ACTIVE_MODAL} button[name=action_prefill]`, run: "click" },
        {
            content: "Gmail's settings are filled in",
            trigger: `${ACTIVE_MODAL} div[name=smtp_host] input:value(smtp.gmail.com)`,
        },
        {
            content: "Show the filled-in part of the form",
            trigger: `${ACTIVE_MODAL} div[name=login] input:value(${ADDRESS})`,
            run() {
                document
                    .querySelector(`${ACTIVE_MODAL} div[name=name]`)
                    .scrollIntoView({ block: "start" });
            },
        },
        screenshot(
            "05-formulaire-rempli",
            `${ACTIVE_MODAL} div[name=imap_host] input:value(imap.gmail.com)`,
            `${ACTIVE_MODAL} .modal-content`,
            { blur: false }
        ),
        {
            content: "Test connection and save",
            trigger: `${ACTIVE_MODAL} button[name=action_test_and_save]`,
            run: "click",
        },
        {
            content: "Show the diagnosis",
            trigger: `${ACTIVE_MODAL} .o_mcl_mailbox_diagnosis:contains(Que faire)`,
            run() {
                this.anchor.scrollIntoView({ block: "start" });
            },
        },
        screenshot(
            "06-diagnostic",
            `${ACTIVE_MODAL} .o_mcl_mailbox_diagnosis:contains(Que faire)`,
            `${ACTIVE_MODAL} .modal-content`
        ),
        {
            content: "Paste the right app password",
            trigger: `${ACTIVE_MODAL} div[name=mcl_password] input`,
            run: `edit ${GOOD_PASSWORD}`,
        },
        {
            content: "Test connection and save again",
            trigger: `${ACTIVE_MODAL} button[name=action_test_and_save]`,
            run: "click",
        },
        screenshot("07-boite-connectee", ".o_notification:contains(Boîte mail connectée)"),
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_screenshots_list", {
    url: "/odoo",
    steps: () => [
        ...openPreferencesMailboxes(),
        screenshot(
            "08-liste-des-boites",
            ".modal div[name=mcl_mailbox_ids] .o_data_row:contains(À vérifier)",
            ".modal .modal-content"
        ),
    ],
});

registry.category("web_tour.tours").add("mcl_mailbox_screenshots_providers", {
    url: "/odoo/action-mcl_mailbox.mcl_mailbox_provider_action",
    steps: () => [
        screenshot("09-fournisseurs", ".o_list_view .o_data_row:contains(Gmail)"),
        { content: "Open the Gmail preset", trigger: ".o_data_row td:contains(Gmail)", run: "click" },
        screenshot("10-fournisseur-gmail", ".o_form_view div[name=imap_host] input:value(imap.gmail.com)"),
    ],
});
