"""Make the add-on's pure-Python core and the mail stack tooling importable without Odoo."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_package(name, path):
    spec = importlib.util.spec_from_file_location(name, path / "__init__.py", submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


# The core is a sub-package of the add-on, whose own __init__ needs Odoo: load it alone.
_load_package("mcl_core", ROOT / "mcl_mailbox" / "core")
sys.path.insert(0, str(ROOT / "scripts"))
