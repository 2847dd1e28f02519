/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";

/**
 * Client action returned by a one-click send: says what was sent, with an "Undo" button while the
 * emails wait in the mail queue. Undo asks the server to cancel them and shows its answer.
 */
export function mclUndoSendAction(env, action) {
    const params = action.params || {};
    const close = env.services.notification.add(params.message, {
        type: "success",
        className: "o_mcl_undo_send",
        autocloseDelay: params.delay * 1000,
        buttons: [
            {
                name: _t("Undo"),
                primary: true,
                onClick: async () => {
                    close();
                    const result = await env.services.orm.call(
                        "account.move",
                        "action_mcl_undo_send",
                        [params.move_ids, params.send_at]
                    );
                    await env.services.action.doAction(result);
                },
            },
        ],
    });
    return params.next;
}

registry.category("actions").add("mcl_mailbox_undo_send", mclUndoSendAction);
