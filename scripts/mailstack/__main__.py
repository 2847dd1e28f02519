"""python scripts/mailstack COMMAND ...: the package directory run as a script."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    from mailstack.cli import main
except ModuleNotFoundError as missing:
    sys.exit(
        f"error: Python module {missing.name!r} is missing from {sys.executable}: "
        "run scripts/bootstrap.sh and use its virtualenv's python"
    )

sys.exit(main())
