"""Small files shared by the CLI, the servers and Dovecot: users, canned replies, counters."""

import base64
import json
import os
import tempfile
from pathlib import Path

# Dovecot reads the passwd-file as its internal user, so the group must be able to read it.
PASSWD_MODE = 0o640


def write_atomic(path, text, mode=0o644, group=None):
    """Replace `path` with `text` so that readers never see a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    if group is not None:
        os.chown(tmp, -1, group)
    os.replace(tmp, path)


def read_json(path):
    """The JSON object in `path`, or {} when the file is missing."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}


def write_json(path, data):
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_users(passwd):
    """Map of lower-cased login -> password from a Dovecot passwd-file written by `write_users`."""
    users = {}
    try:
        lines = Path(passwd).read_text().splitlines()
    except FileNotFoundError:
        return users
    for line in lines:
        login, _, rest = line.partition(":")
        secret = rest.split(":", 1)[0]
        if secret.startswith("{PLAIN.b64}"):
            users[login] = base64.b64decode(secret[len("{PLAIN.b64}") :]).decode()
    return users


def write_users(passwd, users, group):
    """Write the passwd-file; its mtime always moves on by a second so Dovecot reloads it."""
    lines = [f"{login}:{{PLAIN.b64}}{base64.b64encode(pw.encode()).decode()}::::::\n" for login, pw in users.items()]
    try:
        old_mtime = os.stat(passwd).st_mtime
    except FileNotFoundError:
        old_mtime = 0
    write_atomic(passwd, "".join(lines), PASSWD_MODE, group)
    stamp = max(os.stat(passwd).st_mtime, int(old_mtime) + 1)
    os.utime(passwd, (stamp, stamp))


def check_user(email, password):
    """Raise ValueError for a login or password the passwd-file cannot hold."""
    if "@" not in email or any(c in email for c in ":\n\r\t ") or not password:
        raise ValueError(f"not a usable login/password pair: {email!r}")


def add_users(passwd, new_users, group):
    """Add or update users (address -> password), creating the passwd-file if needed."""
    for address, password in new_users.items():
        check_user(address, password)
    users = read_users(passwd)
    users.update({address.lower(): password for address, password in new_users.items()})
    write_users(passwd, users, group)


def lookup_reply(path, login):
    """The canned reply configured for `login` in a replies JSON file, or None."""
    return read_json(path).get(login.lower())


def set_reply(path, login, reply):
    """Set (or with reply=None, remove) the canned reply for `login`."""
    replies = read_json(path)
    if reply is None:
        replies.pop(login.lower(), None)
    else:
        replies[login.lower()] = reply
    write_json(path, replies)
