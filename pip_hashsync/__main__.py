"""``python -m pip_hashsync``."""

import gc
import sys

# A run lives well under a second and allocates mostly through imports, which rarely make
# cycles: a rarer young-generation collection spares ~15 ms of tracing the same objects
# again and again, while cyclic garbage is still collected.
gc.set_threshold(10_000)

from pip_hashsync.cli import main  # noqa: E402  (after the collector is set)

if __name__ == "__main__":
    code = main()
    # Everything is about to be freed with the process: keep the final collection at
    # shutdown from tracing every object once more (~10 ms).
    gc.freeze()
    sys.exit(code)
