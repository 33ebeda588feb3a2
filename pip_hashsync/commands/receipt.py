"""A receipt of the last no-op, so that the next one is answered without parsing anything.

Deciding that a sync would change nothing (:mod:`fastpath`) costs most of a no-op run, and
half of that is importing and running packaging's parser. When that check answers "synced"
for a ``--venv``, it leaves ``.pip-hashsync-receipt.json`` in the venv, naming everything the
answer rested on:

- the request as parsed from the command line, the working folder, the tool's version,
  every ``PIP_*`` variable and the variables that locate pip's configuration files;
- the bytes (sha256) of every requirements and constraints file read, included ones too,
  and of every pip configuration file consulted (or that it was absent);
- the environment: the interpreter's file, ``pyvenv.cfg``, each site directory, and in each,
  every ``.dist-info`` folder with its ``METADATA`` and provenance file (size and mtime);
  and that no transaction is unfinished (its folder is absent: a killed run is recovered by
  the full path).

The next run with the same request compares these first, with a few dozen ``stat`` calls and
no import beyond the standard library; any difference, or any doubt, runs the full check.
Adding, removing or renaming anything in a site directory changes the directory's mtime, and
any install rewrites ``METADATA``. A receipt is written only when the newest of those times
is older than a file system's timestamp resolution could hide, so that a change made just
after it cannot carry the same time. A sync that has just changed the environment cannot
wait for that: it leaves the receipt when the file system gives a file created before the
stamps are taken (the receipt's own temporary file) a later time than every stamp — a later
change then gets a later time still. What the full check does not look at (a file edited
inside an installed package) the receipt does not either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence

from pip_hashsync import PROVENANCE_FILE, RECEIPT_FILE, WORK_DIR, __version__
from pip_hashsync.settings._pipcompat import CONFIG_LOCATION_VARIABLES
from pip_hashsync.settings.request import SyncRequest, file_sha256, files_unchanged

_FORMAT = 2
#: How old the newest stamp must be: above the coarse clock tick that Linux uses for file
#: times (at most 10 ms); 2 s on file systems that store whole seconds only.
_SETTLED_NS = 50_000_000
_SETTLED_WHOLE_SECONDS_NS = 2_000_000_000

Stamp = list[int] | None


def receipt_venv(request: SyncRequest) -> str | None:
    """The venv whose receipt answers ``request``: a ``--venv`` only, where it has a home of
    its own; None otherwise."""
    return request.venv if request.venv and not request.python else None


def receipt_count(request: SyncRequest) -> int | None:
    """The number of installed distributions the receipt in ``request.venv`` vouches for, or
    None when there is none or anything it rests on has changed."""
    venv = receipt_venv(request)
    if venv is None:
        return None
    try:
        with open(os.path.join(venv, RECEIPT_FILE), "rb") as file:
            receipt = json.load(file)
        if receipt.get("key") != _key(request) or not files_unchanged(receipt["files"]):
            return None
        if _config_digests(receipt["config"]) != receipt["config"]:
            return None
        environment = _environment(venv, receipt["executable"], receipt["site_dirs"])
        if environment is None or environment != receipt["environment"]:
            return None
        return int(receipt["count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_receipt(
    request: SyncRequest,
    files: Mapping[str, str | None],
    config_files: Sequence[str],
    executable: str,
    site_dirs: Sequence[str],
    count: int,
    *,
    just_changed: bool = False,
) -> None:
    """Record that ``request`` found ``count`` distributions synced; ``files`` maps every
    file read to the sha256 of its bytes (None: not a local file, no receipt then), and
    ``config_files`` are the pip configuration files consulted; ``just_changed``: this run
    changed the environment moments ago (settled by the file system's clock, see above).
    Quietly does nothing when the receipt could not be trusted or written."""
    venv = receipt_venv(request)
    if venv is None or any(v is None for v in files.values()):
        return
    path = os.path.join(venv, RECEIPT_FILE)
    temp = f"{path}.{os.getpid()}.tmp"
    trusted = False
    try:
        with open(temp, "w", encoding="utf-8") as file:
            created = os.fstat(file.fileno())  # before the stamps: see _later_than_all
            environment = _environment(venv, executable, site_dirs)
            trusted = environment is not None and (
                _settled(environment)
                or (just_changed and _later_than_all(created, environment, site_dirs))
            )
            if trusted:
                receipt = {
                    "format": _FORMAT,
                    "key": _key(request),
                    "files": files,
                    "config": _config_digests(config_files),
                    "executable": executable,
                    "site_dirs": list(site_dirs),
                    "environment": environment,
                    "count": count,
                }
                json.dump(receipt, file)
        if trusted:
            os.replace(temp, path)
            return
    except OSError:
        pass
    with contextlib.suppress(OSError):
        os.unlink(temp)


def _key(request: SyncRequest) -> str:
    """Everything outside the files and the environment that the answer depended on."""
    variables = sorted(
        (k, v)
        for k, v in os.environ.items()
        if k.startswith("PIP_") or k in CONFIG_LOCATION_VARIABLES
    )
    text = repr((_FORMAT, __version__, os.getcwd(), repr(request), variables))
    return hashlib.sha256(text.encode()).hexdigest()


def _config_digests(paths: Iterable[str]) -> dict[str, str | None]:
    """The sha256 of each configuration file, None for one that does not exist."""
    return {path: file_sha256(path) for path in paths}


def _environment(venv: str, executable: str, site_dirs: Sequence[str]) -> dict[str, Stamp] | None:
    """The stamps of the interpreter, ``pyvenv.cfg``, the transaction's folder and the
    installed distributions, by path; None when the environment holds something stamps
    cannot vouch for (an ``.egg-link`` points to metadata elsewhere)."""
    paths = [executable, os.path.join(venv, "pyvenv.cfg"), os.path.join(venv, WORK_DIR)]
    for site_dir in site_dirs:
        paths.append(site_dir)
        try:
            names = sorted(os.listdir(site_dir))
        except OSError:
            continue
        for name in names:
            if name.endswith(".egg-link"):
                return None
            if name.endswith((".dist-info", ".egg-info")):
                folder = os.path.join(site_dir, name)
                paths += [folder, os.path.join(folder, "METADATA")]
                paths.append(os.path.join(folder, PROVENANCE_FILE))
    return {path: _stamp(path) for path in paths}


def _stamp(path: str) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns]


def _settled(environment: Mapping[str, Stamp]) -> bool:
    """Whether the newest stamp is old enough that a later change gets a later time."""
    times = [stamp[1] for stamp in environment.values() if stamp is not None]
    if not times:
        return False
    whole_seconds = all(t % 1_000_000_000 == 0 for t in times)
    needed = _SETTLED_WHOLE_SECONDS_NS if whole_seconds else _SETTLED_NS
    return time.time_ns() - max(times) >= needed


def _later_than_all(
    created: os.stat_result, environment: Mapping[str, Stamp], site_dirs: Sequence[str]
) -> bool:
    """Whether the file system stamped a file created before the stamps were taken later
    than every one of them: any change after that gets a time at least as late, so it cannot
    hide behind an equal stamp (at any timestamp resolution). Only on the site directories'
    own file system, whose clock it is."""
    try:
        if any(os.stat(site_dir).st_dev != created.st_dev for site_dir in site_dirs):
            return False
    except OSError:
        return False
    return all(stamp is None or stamp[1] < created.st_mtime_ns for stamp in environment.values())
