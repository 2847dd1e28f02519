"""python scripts/bench ...: the package directory run as a script (see scripts/bench.sh)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.main import main

sys.exit(main())
