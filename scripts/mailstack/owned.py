"""A stack of one process's own, on free ports, found and recovered without any configuration.

The add-on's tests use it when no script gave them a stack (``odoo-bin --test-enable``, or pytest-odoo
run by hand). Each slot is a run directory named after its port base, locked (``flock``) by the
process using it for as long as that process lives: a slot whose lock is free may still hold a stack
that a killed run left running, which is stopped and started afresh.
"""

import fcntl
import logging
import os
from pathlib import Path

from .layout import StackError
from .stack import Stack, check_free_ports, check_prerequisites

# Port bases to try, in order: clear of the demo's 10000, the test command's 20000, the
# documentation's 21000, the benchmark's 22000 and the pure tests' 30000-31000, and below Linux's
# ephemeral ports (32768+).
SLOT_BASES = (*range(11000, 20000, 1000), *range(23000, 30000, 1000))
SLOT_PREFIX = "mailstack-own-"
START_ATTEMPTS = 3  # slots tried when a start fails (a port taken between the check and the start)

_logger = logging.getLogger(__name__)


def posix_cksum(data):
    """The CRC that POSIX ``cksum`` prints (not zlib's CRC-32: MSB first, the length appended, inverted)."""
    crc = 0

    def feed(byte):
        nonlocal crc
        crc ^= byte << 24
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF

    for byte in data:
        feed(byte)
    length = len(data)
    while length:
        feed(length & 0xFF)
        length >>= 8
    return ~crc & 0xFFFFFFFF


def default_root(repo):
    """The clone's folder of mail stacks: $MCL_STACKS, else what scripts/env.sh names it."""
    # In /tmp, where Dovecot's unprivileged users can reach it even when the clone sits in a private folder.
    folder = f"/tmp/mcl_mailbox-stacks-{posix_cksum(str(repo).encode())}"  # noqa: S108  (claim checks its owner)
    return Path(os.environ.get("MCL_STACKS") or folder)


def slot_dirs(root):
    """Every slot directory under `root`, used or not (for `make stop`)."""
    return sorted(Path(root).glob(f"{SLOT_PREFIX}*"))


def _lock(directory):
    """An open, exclusively locked file in `directory`, or None when a live process holds it."""
    lock = open(directory / "owner.lock", "a")  # held open while the stack is ours
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def claim(root, users=None, bases=SLOT_BASES):
    """Start a stack in the first free slot under `root` and return it, with `stack.owner_lock` held.

    A slot is skipped while another live process holds it or something else listens on its ports.
    The caller stops the stack (``stack.stop()``); the lock goes with the process.
    """
    check_prerequisites()
    root = Path(root)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    if root.stat().st_uid != os.geteuid():
        raise StackError(f"{root} belongs to another user: remove it, or name another folder in MCL_STACKS")
    busy, failures = [], []
    for base in bases:
        directory = root / f"{SLOT_PREFIX}{base}"
        directory.mkdir(mode=0o755, exist_ok=True)
        lock = _lock(directory)
        if lock is None:
            busy.append(f"{base} (another test run)")
            continue
        stack = Stack(directory, base)
        try:
            if stack.stop():  # left running by a run that was killed
                _logger.info("stopped a mail stack left running in %s", directory)
            check_free_ports(stack.layout)
        except StackError:
            lock.close()
            busy.append(f"{base} (ports in use)")
            continue
        try:
            stack.start(users)
        except StackError as error:
            lock.close()
            failures.append(f"{base}: {error}")
            if len(failures) >= START_ATTEMPTS:
                break
            continue
        stack.owner_lock = lock
        return stack
    raise StackError(
        f"no mail stack could start under {root}: "
        + "; ".join([*(f"busy {item}" for item in busy), *failures])
    )


def stop_left(root):
    """Stop the stacks that killed runs left in the slots under `root` (those no live process holds)."""
    stopped = []
    for directory in slot_dirs(root):
        lock = _lock(directory)
        if lock is None:
            continue  # its run is alive
        with lock:
            if Stack(directory).stop():
                stopped.append(directory)
    return stopped
