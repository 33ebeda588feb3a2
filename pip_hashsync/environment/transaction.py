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

Why the journal can be believed (policy 12). The journal and the stash live in the
environment's prefix, which is a wheel's ``data`` scheme, so a wheel could name them: no
file is ever written, moved or removed under pip-hashsync's own names (:data:`BOOKKEEPING`),
whatever a wheel or a RECORD says. A rollback replays the entries this run keeps in memory,
never the file, and every entry replayed, by a rollback or by the recovery of a killed run,
is checked on its resolved path: files inside the environment's scheme folders, stashes
inside the stash; anything else is left alone and reported. The journal is not signed: what
could forge it can already write the environment (and run code there, with a ``.pth``
file), and a key would have to outlive a killed run somewhere outside the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from json.encoder import encode_basestring_ascii as _json_string
from pathlib import Path
from types import TracebackType
from typing import Any

from pip_hashsync import BOOKKEEPING, LOCK_FILE, WORK_DIR
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

_JOURNAL = "journal.jsonl"
_STASH = "stash"
_ROLLED_BACK = "rolled back; the environment is as it was"

#: Test hook, read when a :class:`Transaction` is created. After the N-th journaled write:
#: ``fail-after-writes:N`` raises :class:`InjectedFault`, ``pause-after-writes:N`` sleeps
#: 30 s, ``kill-after-writes:N`` kills the process (SIGKILL: a kill at a known point, no
#: timing), ``interrupt-after-writes:N`` is a Ctrl-C, ``interrupt-twice-after-writes:N``
#: one more as the rollback starts. ``kill-before-commit`` kills the process once every
#: change is made.
FAULT_VARIABLE = "PIP_HASHSYNC_FAULT"
_FAULTS = ("fail", "pause", "kill", "interrupt", "interrupt-twice")


class TransactionError(HashsyncError):
    """Changing the environment failed; the message says what state it was left in."""

    exit_code = ExitCode.ENVIRONMENT


class InjectedFault(RuntimeError):
    """Raised by the :data:`FAULT_VARIABLE` test hook."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a transaction; the message says what state the environment is in."""


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


def unfinished(target: Target) -> Path | None:
    """The folder of a transaction that was not finished (a run was killed, or is changing
    the environment right now), else None. One ``stat``; :func:`recover` deals with it."""
    work = Path(target.prefix, WORK_DIR)
    return work if os.path.lexists(work) else None


def recover(target: Target) -> str | None:
    """Finish or undo the transaction of a run that was killed; call it under the lock,
    before planning. Returns a message for the user when there was one, else None."""
    work = _work_dir(target)
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
    left_alone = _undo(entries, target)
    _clean_up(work)
    if not entries:
        return None
    message = (
        f"A previous pip-hashsync run on {target.prefix} was interrupted; its changes were undone."
    )
    if left_alone:
        message += (
            f" {len(left_alone)} journal entries point outside the environment or into "
            "pip-hashsync's own files, which no run writes; they were left alone:\n"
            + "\n".join(f"    {entry}" for entry in left_alone)
        )
    return message


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
        self._dir = _work_dir(target)
        self._journal_path = self._dir / _JOURNAL
        # Unique, so that leftovers of a stash that could not be deleted never collide.
        self._stash = self._dir / _STASH / secrets.token_hex(4)
        self._lock = threading.Lock()
        self._stashed = 0
        self._writes = 0
        self._written: list[str] = []
        #: What this run logged: a rollback replays these, never the file.
        self._entries: list[dict[str, str]] = []
        self._place = _Containment(target)
        self._known_dirs: set[str] = set()
        #: Folders this transaction created: a file in one of them cannot be in the way.
        self._new_dirs: set[str] = set()
        self._fault = _read_fault()
        try:
            self._dir.mkdir(exist_ok=True)
            # Unbuffered: every entry is one write, which reaches the OS before it returns.
            self._journal = self._journal_path.open("xb", buffering=0)
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
                if self._fault == ("kill-before-commit", 0):
                    _kill_self()
                self.commit()
                return
            except OSError as error:
                exc = error
        try:
            self.rollback()
        except KeyboardInterrupt:
            raise Interrupted(
                f"Interrupted while undoing the changes to {self._target.prefix}: it may be "
                "half-changed. Its journal is kept, and the next pip-hashsync run on it will "
                "finish undoing them."
            ) from None
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(
                f"Interrupted. The changes to {self._target.prefix} were {_ROLLED_BACK}."
            ) from exc
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
        All moves are logged (and synced) first, in one write. Only what a rollback may put
        back is moved: pip-hashsync's own files, or a file whose folder resolves outside the
        environment, stay where they are, whatever a RECORD says."""
        with self._lock:
            files = [str(path) for path in removal.files if self._place.changeable(str(path))]
            moves = [(path, self._next_stash()) for path in files]
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
        """Undo every change this run logged, newest first: delete what was written, remove
        the folders created, put the stashed files back. Interrupted, it leaves the journal
        for the next run's :func:`recover`."""
        with self._lock:
            self._journal.close()
            entries = list(self._entries)
        if self._fault is not None and self._fault[0] == "interrupt-twice-after-writes":
            signal.raise_signal(signal.SIGINT)
        _undo(entries, self._target)
        _clean_up(self._dir)

    def _before_write(self, path: str) -> None:
        """Log a file before the installer creates it; create its missing folders (logged,
        and here under the lock, so that threads never race to create one), and stash
        whatever is already at its place. A path a rollback could not undo is refused."""
        with self._lock:
            refusal = self._place.refusal(path)
            if refusal is not None:
                raise ValueError(f"the wheel would write {path}: {refusal}")
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
                elif self._fault[0] == "kill-after-writes":
                    _kill_self()
                elif self._fault[0].startswith("interrupt"):
                    raise KeyboardInterrupt
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
        self._entries += entries
        unwritten = memoryview(b"".join(_encode(e) for e in entries))
        while unwritten:  # an unbuffered write may take only part of a long batch
            unwritten = unwritten[self._journal.write(unwritten) or 0 :]
        if sync:
            os.fsync(self._journal.fileno())


def _encode(entry: dict[str, str]) -> bytes:
    """One journal line, as ``json.dumps`` writes it; a file's write entry (one per file
    installed: 20,000 for ansible) in a tenth of its time."""
    if len(entry) == 2 and entry.get("op") == "write":
        return b'{"op": "write", "path": %s}\n' % _json_string(entry["path"]).encode()
    return json.dumps(entry).encode() + b"\n"


def _work_dir(target: Target) -> Path:
    """The transaction's folder in the prefix, refused when it is a link: its journal and
    its stash would then live outside the environment, beyond what a rollback checks."""
    work = Path(target.prefix, WORK_DIR)
    if work.is_symlink():
        raise TransactionError(
            f"{work} is a symbolic link; pip-hashsync keeps its journal and stash only inside "
            "the environment. Remove the link (after looking at what it points to), then run "
            "again."
        )
    return work


def _read_fault() -> tuple[str, int] | None:
    kind, _, count = os.environ.get(FAULT_VARIABLE, "").partition(":")
    if kind == "kill-before-commit":
        return kind, 0
    if kind in [f"{fault}-after-writes" for fault in _FAULTS] and count.isdigit():
        return kind, int(count)
    return None


def _kill_self() -> None:
    """End the process at once, as a kill from outside would (no clean-up runs)."""
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


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


def _undo(entries: list[dict[str, Any]], target: Target) -> list[str]:
    """Reverse ``entries``, newest first. Safe to repeat. Touches nothing outside the
    target's scheme folders or inside pip-hashsync's own files, and takes stashed files only
    from the stash, judged on resolved paths; returns the entries left alone for that.
    Raises :class:`TransactionError`, keeping the journal so that the next run tries again,
    when something could not be put back."""
    place = _Containment(target)
    problems: list[str] = []
    left_alone: list[str] = []
    for entry in reversed(entries):
        op = entry.get("op")
        if op not in ("write", "mkdir", "move"):
            continue
        path = place.changeable(entry.get("path"))
        stash = place.stashed(entry.get("stash")) if op == "move" else None
        if path is None or (op == "move" and stash is None):
            left_alone.append(json.dumps(entry))
            continue
        try:
            if op == "write":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            elif op == "mkdir":
                with contextlib.suppress(OSError):  # gone, or holds files nobody logged
                    os.rmdir(path)
            elif stash is not None and os.path.lexists(stash):
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
    return left_alone


class _Containment:
    """Where a transaction may act: inside the environment's folders once the links on the
    way are followed (a symlinked folder must not lead a write, a deletion or a stash out),
    and never on pip-hashsync's own files (compared as case-insensitive file systems compare
    names)."""

    def __init__(self, target: Target) -> None:
        self._prefix = os.path.realpath(target.prefix)
        self._env = Containment(scheme_roots(target))
        self._stash = [os.path.join(self._prefix, WORK_DIR, _STASH)]

    def changeable(self, path: object) -> str | None:
        """``path`` with its folder resolved, if it may be changed; the last part is not
        followed (a link is removed as a link)."""
        if not isinstance(path, str) or not os.path.isabs(path):
            return None
        resolved, refusal = self._judge(os.path.normpath(path))
        return resolved if refusal is None else None

    def refusal(self, path: str) -> str | None:
        """Why ``path`` (absolute, normalised) may not be changed, or None."""
        resolved, refusal = self._judge(path)
        if refusal == "outside":
            return f"it resolves to {resolved}, outside the environment's folders"
        if refusal == "ours":
            return "pip-hashsync keeps its own files there (journal, stash, lock, receipt)"
        return None

    def stashed(self, stash: object) -> str | None:
        """``stash`` resolved, if it lies in the transaction's stash."""
        if not isinstance(stash, str) or not os.path.isabs(stash):
            return None
        resolved = self._env.resolve(os.path.normpath(stash))
        return resolved if is_inside(resolved, self._stash) else None

    def _judge(self, path: str) -> tuple[str, str | None]:
        resolved = self._env.resolve(path)
        if not is_inside(resolved, self._env.roots):
            return resolved, "outside"
        if is_inside(resolved, [self._prefix]) and _is_ours(resolved[len(self._prefix) + 1 :]):
            return resolved, "ours"
        return resolved, None


def _is_ours(relative: str) -> bool:
    """``relative`` (to the prefix) starts with one of pip-hashsync's own names."""
    return relative.split(os.sep, 1)[0].casefold().startswith(BOOKKEEPING)


def _clean_up(work: Path) -> None:
    """Delete the stash, then the journal (the order keeps a killed clean-up recoverable)."""
    shutil.rmtree(work / _STASH, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (work / _JOURNAL).unlink()
    with contextlib.suppress(OSError):  # leftovers Windows would not let us delete
        work.rmdir()
