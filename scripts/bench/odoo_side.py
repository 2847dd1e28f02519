"""The bench's databases, the install time of the add-on and the memory of an Odoo worker."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SENDING_SCRIPT = Path(__file__).resolve().parent / "sending.py"


class BenchError(Exception):
    """Something the bench needs did not work (not a slow result: those never fail)."""


@dataclass
class Odoo:
    home: Path
    run_dir: Path

    @property
    def python(self):
        return sys.executable

    @property
    def odoo_bin(self):
        return str(self.home / "odoo-bin")

    def filestore(self, db):
        return self.run_dir / "filestore" / "filestore" / db

    def log(self, name):
        return self.run_dir / f"bench-{name}.log"

    def console(self, name):
        return self.run_dir / f"bench-{name}.console"

    # --- databases ----------------------------------------------------------------------------

    def drop(self, db):
        subprocess.run(["dropdb", "--if-exists", "--force", db], check=True, capture_output=True)
        shutil.rmtree(self.filestore(db), ignore_errors=True)

    def exists(self, db):
        done = subprocess.run(["psql", "-X", "-d", "postgres", "-Atl"], check=False, capture_output=True, text=True)
        names = {line.split("|", 1)[0] for line in done.stdout.splitlines()}
        return db in names and self.filestore(db).exists()

    def copy(self, template, db):
        """A copy of `template` (database and filestore), as a starting point that costs nothing to make."""
        self.drop(db)
        subprocess.run(["createdb", "-T", template, db], check=True, capture_output=True)
        if self.filestore(template).exists():
            shutil.copytree(self.filestore(template), self.filestore(db))

    def timed_run(self, conf, db, *options, log):
        """Seconds taken by `odoo-bin -c conf -d db OPTIONS --stop-after-init`; raise if it fails."""
        command = [self.python, self.odoo_bin, "-c", str(conf), "-d", db, *options, "--stop-after-init",
                   f"--logfile={self.log(log)}", "--log-level=warn"]
        began = time.perf_counter()
        with open(self.console(log), "w") as console:
            done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, stdout=console, stderr=console)
        elapsed = time.perf_counter() - began
        if done.returncode:
            raise BenchError(f"odoo-bin {' '.join(options)} on {db} failed; see {self.log(log)} "
                             f"and {self.console(log)}")
        return elapsed

    # --- sending ------------------------------------------------------------------------------

    def send_batch(self, conf, db, mode, invoices, stack, pdf):
        """Run scripts/bench/sending.py in a fresh process; return its measures."""
        command = [self.python, str(SENDING_SCRIPT), "--conf", str(conf), "--db", db, "--mode", mode,
                   "--invoices", str(invoices), "--stack", str(stack.dir), "--port-base", str(stack.layout.port_base),
                   "--pdf", pdf]
        log = self.log(f"sending-{mode}")
        with open(log, "w") as output:
            done = subprocess.run(command, check=False, stdout=subprocess.PIPE, stderr=output, text=True,
                                  stdin=subprocess.DEVNULL)
        for line in done.stdout.splitlines():
            if line.startswith("BENCH-JSON "):
                return json.loads(line.removeprefix("BENCH-JSON "))
        raise BenchError(f"sending {invoices} invoices on {db} ({mode}) failed (exit {done.returncode}); see {log}")

    # --- memory -------------------------------------------------------------------------------

    def worker_rss(self, conf, db, name, ready_timeout=300):
        """VmRSS (bytes) of a threaded Odoo server once it has answered /web/login once."""
        port = free_port()
        command = [self.python, self.odoo_bin, "-c", str(conf), "-d", db, f"--db-filter=^{db}$",
                   f"--http-port={port}", f"--gevent-port={free_port()}", "--workers=0", "--max-cron-threads=0",
                   f"--logfile={self.log(name)}", "--log-level=warn"]
        with open(self.console(name), "w") as console:
            server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=console, stderr=console,
                                      start_new_session=True)
        try:
            deadline = time.monotonic() + ready_timeout
            while not _answers(f"http://127.0.0.1:{port}/web/login"):
                if server.poll() is not None:
                    raise BenchError(f"Odoo on {db} stopped before answering; see {self.log(name)}")
                if time.monotonic() > deadline:
                    raise BenchError(f"Odoo on {db} did not answer /web/login in {ready_timeout} s")
                time.sleep(0.25)
            time.sleep(0.5)
            return _vm_rss(server.pid)
        finally:
            _stop(server)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (a local http URL)
            response.read()
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _vm_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")


def _stop(process):
    """Stop the server this bench started (its own session: nothing else is touched)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
