"""The set-up scripts: clear one-line causes for bad input, and Odoo's pins for the Python in use."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"


def bootstrap(env_overrides, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.update(env_overrides)
    return subprocess.run(["bash", str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=60, check=False)


def fake_odoo(path, version):
    (path / "odoo").mkdir(parents=True)
    (path / "odoo-bin").write_text("")
    (path / "odoo" / "release.py").write_text(f"version_info = ({version}, 0, 0, 'final', 0, '')\n")
    return path


def test_missing_python_is_reported(tmp_path):
    result = bootstrap({"MCL_PYTHON": "/nonexistent/python3"}, tmp_path)
    assert result.returncode != 0
    assert "Python 3.10+" in result.stderr


def test_old_python_is_reported(tmp_path):
    old = tmp_path / "python3.8"
    old.write_text('#!/bin/sh\n[ "$1" = "-V" ] && echo "Python 3.8.10" && exit 0\nexit 1\n')
    old.chmod(0o755)
    result = bootstrap({"MCL_PYTHON": str(old)}, tmp_path)
    assert result.returncode != 0
    assert "Python 3.8.10 is too old" in result.stderr


def test_odoo_src_without_odoo_bin_is_reported(tmp_path):
    result = bootstrap({"MCL_PYTHON": sys.executable, "ODOO_SRC": str(tmp_path)}, tmp_path)
    assert result.returncode != 0
    assert "has no odoo-bin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_odoo_src_of_another_version_is_reported(tmp_path):
    tree = fake_odoo(tmp_path / "odoo-17.0", 17)
    result = bootstrap({"MCL_PYTHON": sys.executable, "ODOO_SRC": str(tree)}, tmp_path)
    assert result.returncode != 0
    assert "is not Odoo 18.0" in result.stderr


def test_requirements_use_the_python_312_pins():
    sample = ROOT / "tests" / "data" / "odoo-requirements-sample.txt"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "odoo_requirements.py"), str(sample)],
                            capture_output=True, text=True, check=True)
    pins = result.stdout.split()
    assert "cryptography==42.0.8" in pins
    assert "cryptography==3.4.8" not in pins
    assert not any(pin.startswith("python-ldap") for pin in pins)
    assert not any(pin.startswith("pypiwin32") for pin in pins)
    assert "pytz" in pins
