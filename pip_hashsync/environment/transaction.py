"""All or nothing for one environment: a lock, a journal, a stash (design policy 8, EC56).

Only one run changes an environment at a time (:func:`locked`). Inside a
:class:`Transaction` nothing is deleted: the files of removed distributions are moved into a
stash next to the environment (same filesystem, so a move is a rename), and every change
is written to a journal *before* it is made. Success deletes the stash; a failure puts
everything back. A run that was killed leaves its journal behind, and the next run's
:func:`recover` finishes it (if it had committed) or undoes it.

Journal entries, one JSON object per line:

- ``{"op": "move", "path": p, "stash": s}``: ``p`` is moved to ``s``; undo moves it back
  if ``s`` exists (so an entry whose move never happened undoes to nothing);
- ``{"op": "mkdir", "path": d}``: folder ``d`` is created; undo removes it if empty;
- ``{"op": "write", "path": p}``: file ``p`` is created; undo deletes it. Whatever was at
  ``p`` before was moved away first, by a ``move`` entry logged before this one;
- ``{"op": "commit"}``: the changes are complete; recovery only cleans up.

Moves are synced to disk before they happen, since the stash then holds the only copy of a
file. Other entries are flushed to the operating system, which is enough when the process is
killed; after a power loss the files just written are not durable either.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from pip_hashsync.environment.install import WheelToInstall, install_wheel
from pip_hashsync.environment.target import Target
from pip_hashsync.environment.uninstall import (
    Containment,
    Removal,
    is_folder,
    is_inside,
    prune_empty_dirs,
    scheme_roots,
)
from pip_hashsync.errors import ExitCode, HashsyncError

LOCK_FILE = ".pip-hashsync.lock"
WORK_DIR = ".pip-hashsync-txn"
_JOURNAL = "journal.jsonl"
_STASH = "stash"
_ROLLED_BACK = "rolled back; the environment is as it was"

#: Test hook, read when a :class:`Transaction` is created: ``fail-after-writes:N`` raises
#: :class:`InjectedFault` after the N-th journaled write, ``pause-after-writes:N`` sleeps
#: there for 30 s so that a test can kill the run at a known point.
FAULT_VARIABLE = "PIP_HASHSYNC_FAULT"


class TransactionError(HashsyncError):
    """Changing the environment failed; the message says what state it was left in."""

    exit_code = ExitCode.ENVIRONMENT


class InjectedFault(RuntimeError):
    """Raised by the :data:`FAULT_VARIABLE` test hook."""


@contextmanager
def locked(target: Target, *, wait_message: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the target's exclusive lock; when another run holds it, say so once and wait.

    The lock belongs to the open file, so it is released when the process dies, however it
    dies. Not re-entrant: take it once per run.
    """
    path = os.path.join(target.prefix, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise TransactionError(f"Cannot lock {target.prefix}: {exc.strerror or exc}") from None
    try:
        if not _try_lock(fd):
            if wait_message is not None:
                wait_message(f"waiting for another pip-hashsync run on {target.prefix}")
            _wait_lock(fd)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _wait_lock(fd: int) -> None:
        while not _try_lock(fd):
            time.sleep(0.1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _wait_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def recover(target: Target) -> str | None:
    """Finish or undo the transaction of a run that was killed; call it under the lock,
    before planning. Returns a message for the user when there was one, else None."""
    work = Path(target.prefix, WORK_DIR)
    journal = work / _JOURNAL
    if not journal.exists():
        if work.exists():  # a run killed while cleaning up after itself
            _clean_up(work)
        return None
    entries = _read_journal(journal)
    if any(entry.get("op") == "commit" for entry in entries):
        _clean_up(work)
        return (
            f"A previous pip-hashsync run on {target.prefix} was interrupted after its changes "
            "were complete; its clean-up is now done."
        )
    _undo(entries, target)
    _clean_up(work)
    if not entries:
        return None
    return (
        f"A previous pip-hashsync run on {target.prefix} was interrupted; its changes were undone."
    )


class Transaction:
    """Changes to one environment that are kept together or not at all.

    Use under :func:`locked`, after :func:`recover`::

        with Transaction(target) as txn:
            txn.remove(plan_removal(target, old))
            txn.install(new_wheel)

    Leaving the block commits; an exception rolls everything back and is raised again as
    :class:`TransactionError`. :meth:`install` may run in several threads at once.
    """

    def __init__(self, target: Target) -> None:
        self._target = target
        self._dir = Path(target.prefix, WORK_DIR)
        self._journal_path = self._dir / _JOURNAL
        # Unique, so that leftovers of a stash that could not be deleted never collide.
        self._stash = self._dir / _STASH / secrets.token_hex(4)
        self._lock = threading.Lock()
        self._stashed = 0
        self._writes = 0
        self._written: list[str] = []
        self._known_dirs: set[str] = set()
        #: Folders this transaction created: a file in one of them cannot be in the way.
        self._new_dirs: set[str] = set()
        self._fault = _read_fault()
        try:
            self._dir.mkdir(exist_ok=True)
            self._journal = self._journal_path.open("xb")
        except FileExistsError:
            raise TransactionError(
                f"An interrupted pip-hashsync run left its journal in {self._dir}; "
                "it must be recovered before the environment is changed again."
            ) from None
        except OSError as exc:
            raise TransactionError(f"Cannot change {target.prefix}: {exc}") from None

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                self.commit()
                return
            except OSError as error:
                exc = error
        self.rollback()
        if isinstance(exc, Exception):
            rolled_back = TransactionError(
                f"{str(exc) or type(exc).__name__}\n"
                f"The changes to {self._target.prefix} were {_ROLLED_BACK}"
            )
            if isinstance(exc, HashsyncError):  # a refused archive stays an integrity failure
                rolled_back.exit_code = exc.exit_code
            raise rolled_back from exc

    def remove(self, removal: Removal) -> None:
        """Move the files of ``removal`` into the stash, then prune the folders it empties.
        All moves are logged (and synced) first, in one write."""
        with self._lock:
            moves = [(str(path), self._next_stash()) for path in removal.files]
            self._log([{"op": "move", "path": p, "stash": s} for p, s in moves], sync=True)
            for path, stash in moves:
                with contextlib.suppress(FileNotFoundError):  # listed twice, already moved
                    self._move_aside(path, stash)
            self._known_dirs.clear()
            self._new_dirs.clear()
            prune_empty_dirs(self._target, {path.parent for path in removal.files})

    def install(self, wheel: WheelToInstall) -> None:
        """Install ``wheel``, logging each file before it is written."""
        install_wheel(self._target, wheel, before_write=self._before_write)

    def written_python_files(self) -> list[Path]:
        """The ``.py`` files installed so far, for bytecode compilation."""
        with self._lock:
            return [Path(path) for path in self._written if path.endswith(".py")]

    def commit(self) -> None:
        """Make the changes final; once the commit entry is on disk, a killed run is
        finished by the next one instead of undone."""
        with self._lock:
            self._log([{"op": "commit"}], sync=True)
            self._journal.close()
        _clean_up(self._dir)

    def rollback(self) -> None:
        """Undo every logged change, newest first: delete what was written, remove the
        folders created, put the stashed files back."""
        with self._lock:
            self._journal.close()
        _undo(_read_journal(self._journal_path), self._target)
        _clean_up(self._dir)

    def _before_write(self, path: str) -> None:
        """Log a file before the installer creates it; create its missing folders (logged,
        and here under the lock, so that threads never race to create one), and stash
        whatever is already at its place."""
        with self._lock:
            folder = os.path.dirname(path)
            missing = self._missing_dirs(folder)
            if missing:
                self._log([{"op": "mkdir", "path": d} for d in missing])
                for new in missing:
                    os.mkdir(new)
                self._new_dirs.update(missing)
            if folder not in self._new_dirs and os.path.lexists(path):
                stash = self._next_stash()
                self._log([{"op": "move", "path": path, "stash": stash}], sync=True)
                self._move_aside(path, stash)
            self._log([{"op": "write", "path": path}])
            self._written.append(path)
            self._writes += 1
            if self._fault is not None and self._writes == self._fault[1]:
                if self._fault[0] == "pause-after-writes":
                    time.sleep(30)
                else:
                    raise InjectedFault(f"{FAULT_VARIABLE}: failing after {self._writes} writes")

    def _move_aside(self, path: str, stash: str) -> None:
        """Rename ``path`` into the stash. Only files (and links) are: a folder may hold files
        of other distributions, which the commit would delete with it, so a wheel's file in
        its place is refused (ValueError, reported as the wheel's). A failure is explained by
        its folder: renaming out of a read-only mount says "Invalid cross-device link"."""
        if is_folder(path):
            raise ValueError(
                f"{path} is a folder, not a file: pip-hashsync never moves a folder aside "
                "(it may hold files of other distributions)"
            )
        try:
            os.replace(path, stash)
        except FileNotFoundError:
            raise
        except OSError as exc:
            folder = os.path.dirname(path)
            if os.access(folder, os.W_OK):
                raise TransactionError(
                    f"Cannot move {path} aside into {self._stash}: {exc.strerror or exc}"
                ) from None
            while not os.access(parent := os.path.dirname(folder), os.W_OK) and is_inside(
                parent, [self._target.prefix]
            ):
                folder = parent  # name the highest folder that cannot be written
            raise TransactionError(
                f"The folder {folder} is not writable, so its files cannot be removed or "
                "replaced. Make it writable (or sync an environment that is), then run again."
            ) from None

    def _missing_dirs(self, folder: str) -> list[str]:
        """``folder`` and its parents that do not exist yet, outermost first."""
        missing: list[str] = []
        while folder not in self._known_dirs and not os.path.isdir(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        self._known_dirs.add(folder)
        self._known_dirs.update(missing)
        return missing[::-1]

    def _next_stash(self) -> str:
        if not self._stashed:
            self._stash.mkdir(parents=True, exist_ok=True)
        self._stashed += 1
        return str(self._stash / str(self._stashed))

    def _log(self, entries: list[dict[str, str]], *, sync: bool = False) -> None:
        self._journal.write(b"".join(json.dumps(e).encode() + b"\n" for e in entries))
        self._journal.flush()
        if sync:
            os.fsync(self._journal.fileno())


def _read_fault() -> tuple[str, int] | None:
    kind, _, count = os.environ.get(FAULT_VARIABLE, "").partition(":")
    if kind in ("fail-after-writes", "pause-after-writes") and count.isdigit():
        return kind, int(count)
    return None


def _read_journal(path: Path) -> list[dict[str, Any]]:
    """The entries; a last line cut short by a kill is ignored."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise TransactionError(f"Cannot read the journal {path}: {exc.strerror or exc}") from None
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line) if line else None
        except ValueError:
            if number == len(lines):
                break
            raise TransactionError(
                f"The journal {path} is damaged at line {number}; the environment may hold "
                "a half-done change. Inspect or recreate it, then delete the journal."
            ) from None
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _undo(entries: list[dict[str, Any]], target: Target) -> None:
    """Reverse ``entries``, newest first. Safe to repeat; touches nothing outside the
    target's scheme folders. Raises :class:`TransactionError`, keeping the journal so that
    the next run tries again, when something could not be put back."""
    contained = Containment(scheme_roots(target))
    problems: list[str] = []
    for entry in reversed(entries):
        path = entry.get("path")
        if not isinstance(path, str) or path not in contained:
            continue
        try:
            if entry["op"] == "write":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            elif entry["op"] == "mkdir":
                with contextlib.suppress(OSError):  # gone, or holds files nobody logged
                    os.rmdir(path)
            elif entry["op"] == "move" and os.path.lexists(stash := entry.get("stash", "")):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(stash, path)
        except OSError as exc:
            problems.append(f"    {path}: {exc.strerror or exc}")
    if problems:
        raise TransactionError(
            f"These changes to {target.prefix} could not be undone:\n"
            + "\n".join(problems)
            + f"\nThe journal {Path(target.prefix, WORK_DIR, _JOURNAL)} is kept; the next "
            "run tries again."
        )


def _clean_up(work: Path) -> None:
    """Delete the stash, then the journal (the order keeps a killed clean-up recoverable)."""
    shutil.rmtree(work / _STASH, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (work / _JOURNAL).unlink()
    with contextlib.suppress(OSError):  # leftovers Windows would not let us delete
        work.rmdir()
