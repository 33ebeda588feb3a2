"""``python -m pip_hashsync``."""

import sys

from pip_hashsync.cli import main

if __name__ == "__main__":
    sys.exit(main())
