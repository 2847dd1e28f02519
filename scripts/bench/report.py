"""The bench's table, docs/benchmarks.md and the README's Performance section."""

import re

README_BEGIN = "<!-- bench:begin (written by make bench: edits inside are overwritten) -->"
README_END = "<!-- bench:end -->"
TARGET_CONNECTION_RATIO = 0.6
TARGET_SENDING_RATIO = 1.1
TARGET_CLICKS = 2
MIB = 1024 * 1024


def _s(seconds):
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _verdict(ok):
    return "**met**" if ok else "**missed**"


def _connection_rows(results):
    conn = results.get("connection")
    if not conn:
        return [("Connection test", "not measured (crashed)", "", "")]
    rows = [(
        f"Connection test, {conn['rtt'] * 1000:.0f} ms per round trip (median of {conn['repeat']})",
        f"Test connection and save, IMAP and SMTP at once: {_s(conn['both'])}",
        f"IMAP check then SMTP check: {_s(conn['sequential'])} ({_s(conn['imap'])} + {_s(conn['smtp'])})",
        f"ratio {conn['ratio']:.2f}, target ≤ {TARGET_CONNECTION_RATIO}: {_verdict(conn['ratio'] <= TARGET_CONNECTION_RATIO)}",
    )]
    hole = conn.get("unreachable")
    if hole:
        limit = hole["timeout"] + 1
        codes = ", ".join(f"{side} {code}" for side, code in sorted(hole["codes"].items()))
        rows.append((
            f"Unreachable servers (accept, never answer), timeout {hole['timeout']:g} s",
            f"answered in {_s(hole['elapsed'])} ({codes})",
            f"limit: timeout + 1 s = {limit:g} s",
            _verdict(hole["elapsed"] <= limit),
        ))
    return rows


def _sending_rows(results):
    sending, n = results.get("sending"), results["invoices"]
    if not sending:
        return [(f"Sending {n} invoices", "not measured (crashed)", "", "")]
    mine, stock = sending["mailbox"], sending["stock"]
    ratio = mine["wall"] / stock["wall"] if stock["wall"] else float("inf")
    rows = [
        (f"Sending {n} posted invoices (batch → crons → SMTP), wall time",
         _s(mine["wall"]), f"stock Odoo 18: {_s(stock['wall'])}",
         f"ratio {ratio:.2f}, target ≤ {TARGET_SENDING_RATIO}: {_verdict(ratio <= TARGET_SENDING_RATIO)}"),
        ("SMTP logins for the batch", str(mine["logins"]), f"stock Odoo 18: {stock['logins']}",
         f"target ≤ stock: {_verdict(mine['logins'] <= stock['logins'])}"),
        ("Emails accepted by the SMTP server", str(mine["messages"]), f"stock Odoo 18: {stock['messages']}",
         "all sent" if mine["messages"] == stock["messages"] == n else f"**expected {n} each**"),
    ]
    if mine.get("decrypt_seconds") is not None:
        per_call = mine["decrypt_seconds"] * 1e6
        count = mine["decryptions"]
        rows.append((
            "Decryption of the app password",
            f"{per_call:.0f} µs per decryption; {count} for the batch ({count / n:.3f} per email)",
            "stock: password stored in clear, no decryption",
            f"{count * per_call / n:.1f} µs per email ({count * mine['decrypt_seconds'] * 1000:.1f} ms per batch)",
        ))
    copies = mine.get("sent_copies")
    if copies:
        rows.append((
            "Copies filed in the Sent folder (the add-on's own cron, after the batch)",
            f"{copies['queued']} copies in {_s(copies['seconds'])} ({copies['decryptions']} decryptions, "
            f"{copies['left']} left)",
            "stock: no copy is filed",
            "not in the wall time above",
        ))
    return rows


def _click_rows(results):
    found = results.get("clicks") or {"single": (None, "not read"), "batch": (None, "not read")}
    rows = []
    for label, (count, source) in (("Clicks to send one invoice", found["single"]),
                                   (f"Clicks to send a selection of {results['invoices']} invoices", found["batch"])):
        rows.append((label, str(count) if count is not None else "not measured", source,
                     f"target {TARGET_CLICKS}: " + (_verdict(count <= TARGET_CLICKS) if count is not None else "unknown")))
    return rows


def _cost_rows(results):
    rows = []
    install = results.get("install")
    if install:
        rows.append((
            "Install time of mcl_mailbox (database with account)",
            f"{_s(install['install_net'])} ({_s(install['install'])} for odoo-bin -i, "
            f"less {_s(install['load_only'])} for a plain start)",
            f"account itself, on an empty database: {_s(install['account_install'])} "
            f"(measured {install.get('account_install_date', '?')})",
            "",
        ))
    memory = results.get("memory")
    if memory:
        extra = memory["mailbox"] - memory["stock"]
        rows.append((
            "Memory of an Odoo worker (VmRSS after one /web/login)",
            f"{memory['mailbox'] / MIB:.0f} MiB",
            f"without the add-on: {memory['stock'] / MIB:.0f} MiB",
            f"{extra / MIB:+.1f} MiB ({extra / memory['stock']:+.1%})",
        ))
    return rows


def rows(results):
    return _connection_rows(results) + _sending_rows(results) + _click_rows(results) + _cost_rows(results)


def table(results):
    lines = ["| Measure | mcl_mailbox | Reference | Result |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows(results)]
    return "\n".join(lines)


def _machine_line(results):
    m = results.get("machine") or {}
    return (f"{m.get('date', '?')}, {m.get('cpu', '?')}, {m.get('usable_cores', '?')} cores, {m.get('ram', '?')} RAM, "
            f"Python {m.get('python', '?')}, PostgreSQL {m.get('postgresql', '?')}, Odoo {_odoo(results)}")


def _odoo(results):
    sending = results.get("sending") or {}
    version = (sending.get("stock") or {}).get("odoo_version")
    build = (results.get("machine") or {}).get("odoo", "?")
    return f"{version} ({build})" if version else build


def _phases(results):
    sending = results.get("sending")
    if not sending:
        return []
    lines = ["| Side | Wall time | Account cron (documents; stock: its emails too) | Mail queue "
             "| In smtplib send_message, per email | Queuing the Sent copy, per email | Cron runs (account, mail) |",
             "|---|---|---|---|---|---|---|"]
    for label, key in (("mcl_mailbox", "mailbox"), ("stock Odoo 18", "stock")):
        data = sending[key]
        count = max(data["messages"], 1)
        smtp = f"{data.get('smtp_send_message', 0) / count * 1000:.1f} ms"
        copy = f"{data.get('sent_copy_enqueue', 0) / count * 1000:.1f} ms" if data.get("sent_copy_enqueue") else "–"
        lines.append(f"| {label} | {_s(data['wall'])} | {_s(data['documents_phase'])} | {_s(data['queue_phase'])} "
                     f"| {smtp} | {copy} | {data['account_cron_runs']}, {data['mail_cron_runs']} |")
    return lines


def markdown(results):
    m = results.get("machine") or {}
    conn = results.get("connection") or {}
    sending = results.get("sending") or {}
    rendering = (sending.get("stock") or {}).get("rendering", "?")
    n = results["invoices"]
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (scripts/bench.sh, scripts/bench/): mcl_mailbox measured against stock Odoo 18",
        "in the same run, on the same machine, against the same local mail stack. The bench never fails on",
        "speed; a missed target shows as **missed** below.",
        "",
        "## Machine",
        "",
        f"- Date: {m.get('date', '?')}",
        f"- CPU: {m.get('cpu', '?')}, {m.get('usable_cores', '?')} cores usable ({m.get('cores', '?')} online)",
        f"- RAM: {m.get('ram', '?')}; load average at start (1/5/15 min): {m.get('load', '?')}",
        f"- OS: {m.get('os', '?')}",
        f"- Python {m.get('python', '?')}, PostgreSQL {m.get('postgresql', '?')}, Odoo {_odoo(results)}",
        f"- Bench duration: {results.get('duration', 0) / 60:.1f} min",
        "",
        "## Results",
        "",
        table(results),
        "",
    ]
    if results.get("errors"):
        out += ["Crashed measures:", "", *[f"- {error}" for error in results["errors"]], ""]
    phases = _phases(results)
    if phases:
        out += ["Where the sending time goes:", "", *phases, ""]
    if conn.get("both_all"):
        out += [
            "Connection test runs (s): at once " + ", ".join(f"{t:.2f}" for t in conn["both_all"])
            + "; one after the other " + ", ".join(f"{t:.2f}" for t in conn["sequential_all"]) + ".",
            "",
        ]
    out += [
        "## Method",
        "",
        "- **Connection test.** An asyncio proxy in front of the stack's IMAPS and SMTPS ports holds every chunk",
        f"  {conn.get('rtt', 0.2) * 500:.0f} ms in each direction (order kept) and opens the upstream connection one round",
        "  trip late, so every round trip, the TCP handshake included, costs the same. `probe.check_both` (what",
        "  *Test connection and save* runs) is timed against `check_imap` then `check_smtp`, alternately,",
        "  with verified TLS; the medians are compared. The unreachable case points both sides at listening",
        "  sockets that never accept nor answer, with the add-on's default timeout.",
        "- **Sending.** Two databases made in this run, both copies of one base (`account` installed without",
        "  demo data, chart of accounts loaded by account itself; made once per Odoo build and reused, or again",
        "  with `MCL_BENCH_FRESH=1`): the stock one as it is, the other with mcl_mailbox installed. Each side runs in a",
        "  fresh process (scripts/bench/sending.py) driving Odoo in-process: a practitioner, ten patients and",
        f"  {n} posted invoices are made first (not timed); then the practitioner launches the list's batch",
        "  (`account.move.send.batch.wizard`), and the crons' methods run back to back, each in its own committed",
        "  transaction as the cron runner does: `_cron_account_move_send(job_count=20)` until no invoice waits,",
        "  then `process_email_queue(batch_size=1000)` until the queue is empty. Post-commit hooks run as in",
        "  production (stock Odoo sends each invoice's email right after the cron's commit). The clock stops once",
        "  the SMTP server has accepted every email; logins and messages come from the server's own counters.",
        "  Stock side: the same SMTP server and login as a plain `ir.mail_server` with `from_filter` on the",
        "  practitioner's address (stock Odoo sends from the salesperson, here the practitioner). mcl_mailbox",
        "  side: the practitioner's personal mailbox, connected through the set-up form and its real test.",
        "  The cron scheduler's own delays are not counted on either side.",
        f"- **Invoice documents.** {rendering}. Without wkhtmltopdf Odoo cannot make the PDF (\"Unable to",
        "  find Wkhtmltopdf\"), so the bench renders as Odoo's own tests do (`test_enable` set in the sending",
        "  process: the invoice report as HTML, the Factur-X XML as a separate attachment), on both sides alike;",
        "  `MCL_BENCH_PDF=wkhtmltopdf` uses wkhtmltopdf when it is installed.",
        "- **Decryption.** `vault.decrypt` of the stored token timed with timeit (best of 3 × 2000 calls); the",
        "  number of decryptions during the batch is counted by wrapping `vault.decrypt`.",
        "- **Clicks.** Read from the browser tours in mcl_mailbox/static/tests/tours: the number each tour",
        "  asserts with its click counter. No number is given where no tour measures it.",
        "- **Cost at rest.** Install time: `odoo-bin -i mcl_mailbox --stop-after-init` on the copy of the base,",
        "  less a plain `odoo-bin --stop-after-init` on the same database just before. Memory:",
        "  `odoo-bin` (threaded, no cron thread) on a free port for each database, one GET /web/login, then",
        "  VmRSS from /proc/<pid>/status.",
        "- **Noise.** The machine may be shared: compare the two sides of one run, not runs with each other.",
        "  `MCL_BENCH_INVOICES` (default 200) and `MCL_BENCH_REPEAT` (default 5) size the run.",
        "",
    ]
    return "\n".join(out)


def readme_section(results):
    return "\n".join([
        README_BEGIN,
        "## Performance",
        "",
        f"Latest `make bench` ({_machine_line(results)}); method and details in",
        "[docs/benchmarks.md](docs/benchmarks.md).",
        "",
        table(results),
        README_END,
    ])


def update_readme(path, results):
    """Replace the delimited Performance section, or append it at the end of the README."""
    text = path.read_text()
    section = readme_section(results)
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _match: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
