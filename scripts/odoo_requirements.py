"""Print Odoo's Python requirements as pins that install on the running Python.

Odoo 18.0's requirements.txt pins old packages for Python < 3.12, and several
of them no longer build.  The Python 3.12 pins install on 3.10 and 3.11 too,
so markers are evaluated as if the interpreter were at least 3.12.
"""

import sys

from packaging.markers import Marker, default_environment
from packaging.requirements import InvalidRequirement, Requirement

# Not needed by mcl_mailbox or its dependencies, and they need C headers to build.
SKIPPED = {"python-ldap"}


def marker_environment():
    env = default_environment()
    if tuple(map(int, env["python_version"].split("."))) < (3, 12):
        env.update(python_version="3.12", python_full_version="3.12.0")
    return env


def pins(lines, env):
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name.lower() in SKIPPED:
            continue
        if req.marker and not Marker(str(req.marker)).evaluate(env):
            continue
        yield f"{req.name}{req.specifier}"


def main(path):
    with open(path, encoding="utf-8") as handle:
        print("\n".join(pins(handle, marker_environment())))


if __name__ == "__main__":
    main(sys.argv[1])
