"""Pid files and stopping the processes they name, checked against /proc to survive pid reuse."""

import contextlib
import os
import signal
import time
from pathlib import Path


def read_pid(pidfile):
    try:
        return int(Path(pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def command_line(pid, patience=0.5):
    """The command line of `pid`, "" when it is gone.

    Just after exec (and while exiting) the kernel shows an empty one for a moment: wait it out.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return ""
        if cmdline or _is_zombie(pid) or time.monotonic() > deadline:
            return cmdline.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.01)


def is_running(pid, marker):
    """True when `pid` lives and its command line contains `marker` (so a recycled pid is not ours)."""
    return bool(pid) and marker in command_line(pid) and not _is_zombie(pid)


def _is_zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def children(pid):
    """Pids whose parent is `pid`."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat_file.parent.name))
    return found


def running_pid(pidfile, marker):
    """The pid in `pidfile` if that process is still ours, else None."""
    pid = read_pid(pidfile)
    return pid if is_running(pid, marker) else None


def terminate(targets, timeout=10.0):
    """SIGTERM each (pid, marker) that is still ours, then SIGKILL whichever is left after `timeout` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        alive = [(pid, marker) for pid, marker in targets if is_running(pid, marker)]
        for pid, _ in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while any(is_running(pid, marker) for pid, marker in alive) and time.monotonic() < deadline:
            time.sleep(0.05)
