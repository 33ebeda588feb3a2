"""What a terminal sees while a run works, and the colour of the lines that say what changed.

The status line is a few dozen lines of our own rather than rich (which pip vendors for its
bars): one line redrawn with ``\\r`` and padded with spaces needs no library, and rich would
be a new dependency costing tens of milliseconds to import. Since no escape code redraws the
line, ``NO_COLOR`` (https://no-color.org) leaves none in the output; ``TERM=dumb``, a
terminal that may not move back to the line's start, gets no status line (as with rich).
"""

from __future__ import annotations

import os
import time
from typing import TextIO

#: The colour (SGR code) of the sign that starts a change line, as uv colours it.
_COLOURS = {"+": "32", "-": "31", "~": "33"}
#: Seconds between two redraws for bytes arriving (a finished item is drawn at once).
_REDRAW_EVERY = 0.1


def _terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal that can redraw a line."""
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def coloured(line: str, stream: TextIO) -> str:
    """A change line (`` + name==1.0 ...``) with its sign in colour: ``+`` green, ``-`` red,
    ``~`` yellow, when ``stream`` is a terminal and ``NO_COLOR`` is not set; any other line
    as it is."""
    text = line.lstrip(" ")
    sign, space = text[:1], text[1:2]
    colour = _COLOURS.get(sign) if space == " " else None
    if colour is None or not _terminal(stream) or os.environ.get("NO_COLOR"):
        return line
    return f"{line[: len(line) - len(text)]}\x1b[{colour}m{sign}\x1b[39m{text[1:]}"


class StatusLine:
    """One line on a terminal, redrawn in place, saying which phase a run is in and how far
    it got: ``download 3/42 files, 1.2 MB/22.2 MB``, then ``install 17/42``. A
    :class:`~pip_hashsync.commands.sync.Progress`; safe to call from worker threads."""

    def __init__(self, stream: TextIO) -> None:
        import threading  # here: the no-op path (no status line) does not import it

        self._stream = stream
        self._lock = threading.Lock()
        self._name = ""
        self._total = 0
        self._done = 0
        self._files: dict[str, tuple[int, int | None]] = {}
        self._drawn = 0  # the width of the line on screen
        self._last = 0.0

    @classmethod
    def on(cls, stream: TextIO, *, quiet: bool) -> StatusLine | None:
        """A status line on ``stream`` when it is a terminal that can show one and the run is
        not ``quiet``; else None."""
        return cls(stream) if _terminal(stream) and not quiet else None

    def phase(self, name: str, total: int = 0) -> None:
        with self._lock:
            self._name, self._total, self._done = name, total, 0
            self._draw()

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            self._draw()

    def received(self, filename: str, done: int, total: int | None) -> None:
        with self._lock:
            self._files[filename] = (done, total)
            if time.monotonic() - self._last >= _REDRAW_EVERY:
                self._draw()

    def say(self, line: str) -> None:
        """Print ``line`` above the status line (if a phase has begun)."""
        with self._lock:
            self._erase()
            self._stream.write(f"{line}\n")
            if self._name:
                self._draw()

    def clear(self) -> None:
        """Take the status line off the screen (before the run's report is printed)."""
        with self._lock:
            self._erase()
            self._stream.flush()

    def _text(self) -> str:
        if not self._total:
            return f"{self._name} ..."
        text = f"{self._name} {self._done}/{self._total}"
        if self._name != "download":
            return text
        received = sum(done for done, _ in self._files.values())
        sizes = [total for _, total in self._files.values()]
        # The whole size is known once every file has begun (or all are ready: some may
        # come from the cache) and each told its size.
        known = None not in sizes and (len(sizes) >= self._total or self._done == self._total)
        whole = f"/{_size(sum(s for s in sizes if s))}" if known else ""
        return f"{text} files, {_size(received)}{whole}"

    def _draw(self) -> None:
        self._last = time.monotonic()
        width = os.get_terminal_size(self._stream.fileno()).columns or 80
        text = self._text()[: width - 1]
        self._stream.write(f"\r{text}{' ' * (self._drawn - len(text))}")
        self._stream.flush()
        self._drawn = len(text)

    def _erase(self) -> None:
        if self._drawn:
            self._stream.write(f"\r{' ' * self._drawn}\r")
            self._drawn = 0


def _size(count: int) -> str:
    """``count`` bytes in decimal units, as pip shows sizes: ``812 B``, ``4.2 kB``, ``22.2 MB``."""
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"
