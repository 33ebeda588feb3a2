"""What a terminal sees while a run works."""

from __future__ import annotations

import sys
import time


class Progress:
    """One self-rewriting status line on a terminal while archives download."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[int, int | None]] = {}
        self._last = 0.0

    def __call__(self, filename: str, done: int, total: int | None) -> None:
        self._files[filename] = (done, total)
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        received = sum(d for d, _ in self._files.values())
        finished = sum(1 for d, t in self._files.values() if t is not None and d >= t)
        line = f"downloading: {finished}/{len(self._files)} files, {received / 1e6:.1f} MB"
        sys.stderr.write(f"\r{line}\x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        if self._files:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
