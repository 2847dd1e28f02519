"""Run every measure, print the table, write docs/benchmarks.md and the README's Performance section."""

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback
import uuid
from pathlib import Path

from mailstack import Stack

from . import clicks, connection, machine, one_click, replies, report
from .odoo_side import BenchError, Odoo

ROOT = Path(__file__).resolve().parents[2]
one_click.extend_report(report)  # the one-click rows in the table
replies.extend_report(report)  # the replies row (issue 14)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--odoo-home", required=True, type=Path)
    parser.add_argument("--stack", required=True, type=Path)
    parser.add_argument("--port-base", required=True, type=int)
    parser.add_argument("--db", required=True)
    parser.add_argument("--conf", required=True, type=Path)
    parser.add_argument("--stock-db", required=True)
    parser.add_argument("--stock-conf", required=True, type=Path)
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rtt", type=float, default=0.2)
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--readme", type=Path)
    parser.add_argument("--pdf", choices=("html", "wkhtmltopdf"), default=os.environ.get("MCL_BENCH_PDF", "html"))
    return parser.parse_args(argv)


def load_probe():
    """The add-on's pure-Python core, without its Odoo-bound package __init__."""
    path = ROOT / "mcl_mailbox" / "core"
    spec = importlib.util.spec_from_file_location("mcl_core", path / "__init__.py",
                                                  submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["mcl_core"] = module
    spec.loader.exec_module(module)
    from mcl_core import probe  # noqa: PLC0415

    return probe


def step(text):
    print(f"==> {text}", flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.stack = Stack(args.stack, args.port_base)
        self.odoo = Odoo(args.odoo_home, args.run_dir)
        self.results = {"invoices": args.invoices, "errors": []}
        self.began = time.perf_counter()

    def attempt(self, name, function):
        """Run one measure; a crash is reported in the table (and the exit status), the rest still runs."""
        try:
            self.results[name] = function()
        except Exception as error:
            traceback.print_exc()
            self.results["errors"].append(f"{name}: {error}")

    def machine(self):
        return machine.describe(self.args.odoo_home)

    def connection(self):
        step(f"connection test: both at once vs one after the other, {self.args.rtt * 1000:.0f} ms per round trip "
             f"({self.args.repeat} runs each)")
        probe = load_probe()
        address, password = f"probe-{uuid.uuid4().hex[:8]}@practice.bench", f"bench-{uuid.uuid4().hex}"
        self.stack.add_user(address, password)
        result = connection.measure(probe, self.stack, address, password, self.args.repeat, self.args.rtt)
        step(f"connection test: unreachable servers, timeout {connection.DEFAULT_TIMEOUT:g} s")
        result["unreachable"] = connection.measure_unreachable(probe)
        return result

    def databases(self):
        args, odoo = self.args, self.odoo
        base = self.base_database()
        step(f"databases {args.stock_db} (stock) and {args.db}: copies of {base['db']}; "
             "mcl_mailbox installed on the second (timed)")
        odoo.copy(base["db"], args.stock_db)
        odoo.copy(base["db"], args.db)
        load = odoo.timed_run(args.conf, args.db, log="load-only")
        install = odoo.timed_run(args.conf, args.db, "-i", "mcl_mailbox", log="install-mcl_mailbox")
        return {"account_install": base["seconds"], "account_install_date": base["date"], "load_only": load,
                "install": install, "install_net": install - load}

    def base_database(self):
        """`account` without demo data on a fresh database: made once per Odoo build, then reused
        (MCL_BENCH_FRESH=1 makes it again); both sides start from a copy of it."""
        args, odoo = self.args, self.odoo
        name = f"{args.stock_db}_base"
        stamp_file = args.run_dir / "bench-base.json"
        build = (self.results.get("machine") or {}).get("odoo") or machine.describe(args.odoo_home)["odoo"]
        try:
            stamp = json.loads(stamp_file.read_text())
        except (OSError, ValueError):
            stamp = {}
        if (os.environ.get("MCL_BENCH_FRESH") != "1" and stamp.get("db") == name and stamp.get("odoo") == build
                and odoo.exists(name)):
            step(f"database {name} (account, no demo data) reused from {stamp['date']}")
            return stamp
        step(f"database {name}: account, no demo data (once per Odoo build; a few minutes)")
        stamp_file.unlink(missing_ok=True)
        odoo.drop(name)
        seconds = odoo.timed_run(args.stock_conf, name, "-i", "account", "--without-demo=all", log="install-account")
        stamp = {"db": name, "odoo": build, "seconds": seconds, "date": time.strftime("%Y-%m-%d %H:%M")}
        stamp_file.write_text(json.dumps(stamp))
        return stamp

    def sending(self):
        args, results = self.args, {}
        for mode, db, conf in (("stock", args.stock_db, args.stock_conf), ("mailbox", args.db, args.conf)):
            label = "stock Odoo 18, a plain ir.mail_server" if mode == "stock" else "mcl_mailbox, a personal mailbox"
            step(f"sending {args.invoices} invoices: {label} ({db})")
            results[mode] = self.odoo.send_batch(conf, db, mode, args.invoices, self.stack, args.pdf)
            sent = results[mode]
            print(f"    {sent['wall']:.1f} s, {sent['logins']} SMTP logins, {sent['messages']} emails accepted",
                  flush=True)
        return results

    def memory(self):
        args, results = self.args, {}
        for name, db, conf in (("stock", args.stock_db, args.stock_conf), ("mailbox", args.db, args.conf)):
            step(f"worker memory after one /web/login: {db}")
            results[name] = self.odoo.worker_rss(conf, db, f"server-{name}")
        return results

    def one_click(self):
        return one_click.measure(self.odoo, self.args, self.stack)

    def clicks(self):
        single, batch = clicks.summary(ROOT / "mcl_mailbox" / "static" / "tests" / "tours")
        return {"single": single, "batch": batch}

    def run(self):
        self.attempt("machine", self.machine)
        self.attempt("clicks", self.clicks)
        self.attempt("connection", self.connection)
        self.attempt("install", self.databases)
        if "install" in self.results:
            self.attempt("sending", self.sending)
            self.attempt("memory", self.memory)
            self.attempt("one_click", self.one_click)
            self.attempt("replies", lambda: replies.measure(self.odoo, self.args, self.stack))
        self.results["duration"] = time.perf_counter() - self.began
        markdown = report.markdown(self.results)
        print()
        print(report.table(self.results))
        self.args.out.parent.mkdir(parents=True, exist_ok=True)
        self.args.out.write_text(markdown)
        if self.args.readme:
            report.update_readme(self.args.readme, self.results)
        print(f"\nwritten: {self.args.out}" + (f" and the Performance section of {self.args.readme}"
                                                if self.args.readme else ""))
        if self.results["errors"]:
            print("\nsome measures crashed:\n  " + "\n  ".join(self.results["errors"]), file=sys.stderr)
            return 1
        return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return Run(args).run()
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
