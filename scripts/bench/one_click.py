"""One click and the batch against a far-away provider, behind the bench's latency proxy (issue 16).

    python scripts/bench/one_click.py --conf C --db D --mode {mailbox,stock} --part {click,batch} \\
        --stack DIR --port-base P --rtt SECONDS [--invoices N] [--pdf {html,wkhtmltopdf}]

Run once per database and part, each in a fresh process, with the SMTP and IMAP ports of the stack
behind a `DelayProxy` (every round trip to the provider costs `--rtt`):

- ``click``: the time from the click to the notification, as the server spends it, each request in
  its own committed transaction (post-commit sending included, as Odoo answers a request only then).
  Stock Odoo 18: "Send" (``action_invoice_sent``), the dialog's wizard (its fields computed once, for
  its opening and its saving: the least stock can do), then "Send" (``action_send_and_print``, which
  renders the PDF and talks SMTP before answering). mcl_mailbox: "Send to …"
  (``action_mcl_send_now``), which answers at once; the send cron and the mail queue then send the
  email (undo delay set to 0 here), and the time until the provider accepted it is given too.
- ``batch``: scripts/bench/sending.py's measure (the list's batch, the crons, the mail queue) with the
  provider behind the proxy.
"""

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
CLICK_RTT = 0.3  # a provider far away, for the click
BATCH_RTT = 0.05  # a provider in another country, for the batch
TARGET_CLICK_SECONDS, TARGET_CLICK_RATIO, TARGET_BATCH_RATIO = 1.0, 1 / 3, 0.5


# --- the bench's side (scripts/bench/main.py) ----------------------------------------------------


def measure(odoo, args, stack):
    """{part: {mode: measures}} for both parts, stock then mcl_mailbox; each part in fresh processes."""
    results = {}
    for part, rtt, count in (("click", CLICK_RTT, args.repeat), ("batch", BATCH_RTT, args.invoices)):
        for mode, db, conf in (("stock", args.stock_db, args.stock_conf), ("mailbox", args.db, args.conf)):
            print(f"==> {part} at {rtt * 1000:.0f} ms per round trip: {mode} ({db})", flush=True)
            results.setdefault(part, {})[mode] = _run(odoo, conf, db, mode, part, rtt, count, stack, args.pdf)
            print(f"    {_summary(part, results[part][mode])}", flush=True)
    return results


def _run(odoo, conf, db, mode, part, rtt, count, stack, pdf):
    command = [odoo.python, str(SCRIPT), "--conf", str(conf), "--db", db, "--mode", mode, "--part", part,
               "--rtt", str(rtt), "--invoices", str(count), "--stack", str(stack.dir),
               "--port-base", str(stack.layout.port_base), "--pdf", pdf]
    log = odoo.log(f"one-click-{part}-{mode}")
    with open(log, "w") as output:
        done = subprocess.run(command, check=False, stdout=subprocess.PIPE, stderr=output, text=True,
                              stdin=subprocess.DEVNULL)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            return json.loads(line.removeprefix("BENCH-JSON "))
    raise RuntimeError(f"{part} on {db} ({mode}) failed (exit {done.returncode}); see {log}")


def _summary(part, result):
    if part == "click":
        return f"click to notification {result['click']:.2f} s (median of {len(result['clicks'])}), " \
               f"{result['arrived']}/{len(result['clicks'])} emails accepted"
    return f"{result['wall']:.1f} s, {result['logins']} SMTP logins, {result['messages']} emails accepted"


def _verdict(ok):
    return "**met**" if ok else "**missed**"


def rows(results):
    """The rows of the bench's table (see report.py) for what ``measure`` returned."""
    found = results.get("one_click") or {}
    out = []
    click = found.get("click")
    if click:
        mine, stock = click["mailbox"], click["stock"]
        ratio = mine["click"] / stock["click"]
        out.append((
            f"One click to send an invoice, {CLICK_RTT * 1000:.0f} ms per round trip to the provider "
            f"(time from the click to the notification, median of {len(mine['clicks'])})",
            f"Send to …: {mine['click']:.2f} s (the email, after the undo delay set to 0, accepted "
            f"{mine['to_provider']:.1f} s after the click)",
            f"stock Odoo 18, Send then Send: {stock['click']:.2f} s ({stock['steps']})",
            f"ratio {ratio:.2f}, target < {TARGET_CLICK_SECONDS:g} s and ≤ 1/3: "
            f"{_verdict(mine['click'] < TARGET_CLICK_SECONDS and ratio <= TARGET_CLICK_RATIO)}",
        ))
    batch = found.get("batch")
    if batch:
        mine, stock = batch["mailbox"], batch["stock"]
        ratio = mine["wall"] / stock["wall"]
        out.append((
            f"Sending {mine['invoices']} posted invoices, {BATCH_RTT * 1000:.0f} ms per round trip, wall time",
            f"{mine['wall']:.1f} s, {mine['logins']} SMTP login(s)",
            f"stock Odoo 18: {stock['wall']:.1f} s, {stock['logins']} SMTP logins",
            f"ratio {ratio:.2f}, target ≤ {TARGET_BATCH_RATIO:g}: {_verdict(ratio <= TARGET_BATCH_RATIO)}",
        ))
    return out


def extend_report(report):
    """Have ``report`` add this module's rows to the bench's table (README and docs/benchmarks.md)."""
    base_rows = report.rows
    report.rows = lambda results: base_rows(results) + rows(results)


# --- the measuring process -----------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--mode", choices=("mailbox", "stock"), required=True)
    parser.add_argument("--part", choices=("click", "batch"), required=True)
    parser.add_argument("--rtt", type=float, required=True)
    parser.add_argument("--invoices", type=int, default=5)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--port-base", type=int, required=True)
    parser.add_argument("--pdf", choices=("html", "wkhtmltopdf"), default="html")
    return parser.parse_args(argv)


class ProxiedStack:
    """The bench's mail stack, as seen through the proxies: its SMTP and IMAP ports are theirs."""

    def __init__(self, stack, ports):
        self._stack = stack
        self.ports = {**stack.ports, **ports}

    def __getattr__(self, name):
        return getattr(self._stack, name)


def timed(bench, request):
    """Seconds taken by ``request(env, doctor)`` in its own committed transaction, and its result."""
    began = time.perf_counter()
    with bench.cursor_env() as env:
        result = request(env, env["res.users"].browse(bench.doctor_id))
    return time.perf_counter() - began, result


def stock_two_clicks(bench, invoice_id):
    """(seconds, steps): "Send", the dialog's wizard, then "Send" in the dialog."""
    context = {"active_model": "account.move", "active_ids": [invoice_id]}
    first, _action = timed(bench, lambda env, doctor: env["account.move"].with_user(doctor).browse(invoice_id)
                           .action_invoice_sent())
    dialog, wizard_id = timed(bench, lambda env, doctor: env["account.move.send.wizard"].with_user(doctor)
                              .with_context(**context).create({}).id)
    second, _done = timed(bench, lambda env, doctor: env["account.move.send.wizard"].with_user(doctor)
                          .with_context(**context).browse(wizard_id).action_send_and_print())
    return first + dialog + second, (first, dialog, second)


def one_click(bench, invoice_id):
    """(seconds of the click, seconds until the provider accepted the email)."""
    began = time.perf_counter()
    seconds, action = timed(bench, lambda env, doctor: env["account.move"].with_user(doctor).browse(invoice_id)
                            .action_mcl_send_now())
    from odoo import fields  # noqa: PLC0415 (Odoo is loaded only in the measuring process)

    if action.get("tag") != "mcl_mailbox_undo_send":
        raise RuntimeError(f"the click did not send: {action}")
    with bench.cursor_env() as env:  # the send cron, which the click triggered
        while env["account.move"].search_count([("sending_data", "!=", False)]):
            env["account.move"]._cron_account_move_send()
    with bench.cursor_env() as env:  # when the email is due (the undo delay, or the rendering's margin)
        mails = env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", invoice_id)])
        due = max([fields.Datetime.to_datetime(action["params"]["send_at"]), *mails.mapped("scheduled_date")])
        wait = (due - fields.Datetime.now()).total_seconds()
    time.sleep(max(0.0, wait) + 0.1)
    with bench.cursor_env() as env:  # the mail queue, which the click triggered for then
        env["mail.mail"].process_email_queue()
    return seconds, time.perf_counter() - began


def measure_clicks(bench, mode):
    if mode == "mailbox":
        with bench.cursor_env() as env:
            env["ir.config_parameter"].set_param("mcl_mailbox.undo_delay", "0")
    before = bench.stack.smtp_stats()["messages"]
    clicks, to_provider, steps = [], [], []
    for invoice_id in bench.invoice_ids:
        if mode == "stock":
            seconds, parts = stock_two_clicks(bench, invoice_id)
            steps.append(parts)
        else:
            seconds, accepted = one_click(bench, invoice_id)
            to_provider.append(accepted)
        clicks.append(seconds)
    arrived = bench._settled_stats({"messages": before})["messages"] - before
    result = {"click": statistics.median(clicks), "clicks": clicks, "arrived": arrived}
    if steps:
        first, dialog, second = (statistics.median(column) for column in zip(*steps, strict=True))
        result["steps"] = f"Send {first:.2f} s + dialog {dialog:.2f} s + Send {second:.2f} s"
    if to_provider:
        result["to_provider"] = statistics.median(to_provider)
    return result


def main(argv=None):
    args = parse_args(argv)
    import sending  # noqa: PLC0415 (Odoo is loaded only in this process)
    from proxy import DelayProxy  # noqa: PLC0415

    bench = sending.Bench(argparse.Namespace(conf=args.conf, db=args.db, mode=args.mode, invoices=args.invoices,
                                             stack=args.stack, port_base=args.port_base, pdf=args.pdf))
    with (DelayProxy(bench.stack.ports["smtps"], args.rtt) as smtp,
          DelayProxy(bench.stack.ports["imaps"], args.rtt) as imap):
        bench.stack = ProxiedStack(bench.stack, {"smtps": smtp.port, "imaps": imap.port})
        bench.set_up()
        if args.mode == "mailbox":
            with bench.cursor_env() as env:
                # The documented default (six times the connection timeout): read as missing, the parameter
                # gives 1 s today (``get_param`` answers False, and ``float(False)`` is 0), which cuts every
                # message sent through a provider 300 ms away.
                env["ir.config_parameter"].set_param("mcl_mailbox.message_timeout", "60")
        result = measure_clicks(bench, args.mode) if args.part == "click" else bench.send()
    result.update(part=args.part, mode=args.mode, rtt=args.rtt, invoices=args.invoices, rendering=bench.pdf)
    print("BENCH-JSON " + json.dumps(result), flush=True)
    os._exit(0)  # do not wait for Odoo's daemon threads


if __name__ == "__main__":
    main()
