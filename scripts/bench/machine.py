"""What the numbers were measured on."""

import datetime
import os
import platform
import re
import subprocess
from pathlib import Path


def _cpu_model():
    text = Path("/proc/cpuinfo").read_text(errors="replace") if Path("/proc/cpuinfo").exists() else ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _ram_gib():
    text = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    match = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 / 1024 if match else None


def _postgres_version():
    try:
        out = subprocess.run(["psql", "-X", "-d", "postgres", "-Atc", "show server_version"],
                             capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.strip() or "unknown"


def _odoo_version(odoo_home):
    """The build of the Odoo tree (PKG-INFO of a release tree), else its series from release.py."""
    pkg_info = Path(odoo_home, "PKG-INFO")
    if pkg_info.exists():
        match = re.search(r"^Version:\s*(\S+)", pkg_info.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    release = Path(odoo_home, "odoo", "release.py")
    match = re.search(r"^version_info = \((\d+), (\d+)", release.read_text(), re.MULTILINE) if release.exists() else None
    return f"{match.group(1)}.{match.group(2)}" if match else "unknown"


def describe(odoo_home):
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    ram = _ram_gib()
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram": f"{ram:.1f} GiB" if ram else "unknown",
        "load": " / ".join(f"{value:.2f}" for value in load) if load else "unknown",
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "odoo": _odoo_version(odoo_home),
        "os": platform.platform(),
    }
