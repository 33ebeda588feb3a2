"""``sync`` and ``install``: carry a plan out, all or nothing.

Under the target's lock: finish or undo a run that was killed, plan, then fetch and verify
every archive the plan needs (falling back to the next allowed file when bytes fail the
check), and only then change the environment in one transaction — stash what goes, install
what comes, commit or roll back (policy 8, EC56). A run whose every requirement is already
installed from an allowed archive stops before any of this (see :mod:`fastpath`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pip_hashsync import DEFAULT_LINK_MODE, LinkMode
from pip_hashsync.archives.cache import ArchiveCache, BuiltWheel
from pip_hashsync.archives.fetch import Archive, FetchRequest, check_wheels, fetch
from pip_hashsync.commands.fastpath import synced_count
from pip_hashsync.commands.receipt import receipt_venv
from pip_hashsync.environment.install import WheelToInstall, compile_bytecode
from pip_hashsync.environment.installed import Provenance
from pip_hashsync.environment.target import Target, create_venv
from pip_hashsync.environment.transaction import Transaction, locked, recover
from pip_hashsync.environment.uninstall import plan_removal
from pip_hashsync.environment.unpacked import UnpackedCache
from pip_hashsync.errors import ExitCode, InputError
from pip_hashsync.index.http import Clients, HttpClient
from pip_hashsync.resolve.plan import Action
from pip_hashsync.resolve.planner import SyncPlan, plan_sync
from pip_hashsync.settings.config import backend_config_settings
from pip_hashsync.settings.request import SyncRequest, cache_dir_of, locate
from pip_hashsync.urls import redact

if TYPE_CHECKING:
    from pip_hashsync.archives.build import BuildEnv, FillEnv
    from pip_hashsync.settings.request import Located


class Progress(Protocol):
    """What a run tells while it works, for a status line (the library prints nothing).
    Called from worker threads; the phases come in order: resolve, then (when there is
    something to change) download, build (only with sdists to build), install, compile
    (with ``--compile``)."""

    def phase(self, name: str, total: int = 0) -> None:
        """Phase ``name`` begins, with ``total`` items to do (0: not counted)."""

    def advance(self) -> None:
        """One more item of the current phase is done."""

    def received(self, filename: str, done: int, total: int | None) -> None:
        """``done`` bytes of ``filename`` have arrived, of ``total`` (None: not known)."""


class _Silent:
    """The progress of a run nobody watches."""

    def phase(self, name: str, total: int = 0) -> None:
        pass

    def advance(self) -> None:
        pass

    def received(self, filename: str, done: int, total: int | None) -> None:
        pass


@dataclass(frozen=True)
class ApplyOptions:
    """How to carry the plan out."""

    check: bool = False
    offline: bool = False
    compile: bool = False
    #: How files come out of the cache of unpacked wheels.
    link_mode: LinkMode = DEFAULT_LINK_MODE
    #: Parallel downloads (network-bound).
    workers: int = 8
    #: Parallel installs: file writes release the GIL, but unpacking and RECORD hashing do
    #: not, so more threads than cores only contend (measured on 2 cores: 2 threads 0.63 s,
    #: 8 threads 0.96 s for a 43-wheel, 3,900-file lock).
    install_workers: int = field(default_factory=lambda: min(os.cpu_count() or 1, 4))


@dataclass
class Outcome:
    """What a run did (or, for ``--check``, would do), for the summary and the exit code."""

    plan: SyncPlan
    done: list[Action] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    drift: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if self.plan.problems:
            return self.plan.exit_code
        return ExitCode.DRIFT if self.drift else ExitCode.OK


def new_venv(request: SyncRequest, options: ApplyOptions) -> Path | None:
    """The ``--venv`` this run must create (it does not exist yet), else None; ``--check``
    creates nothing."""
    venv = Path(request.venv) if request.venv else None
    if venv is None or request.python or venv.exists() or options.check:
        return None
    return venv


def prepare_target(request: SyncRequest, options: ApplyOptions) -> Located:
    """The target, creating a ``--venv`` that does not exist yet (not for ``--check``), and
    pip's settings for it; an externally managed target is refused unless
    ``break-system-packages`` is set (PEP 668, EC83)."""
    venv = new_venv(request, options)
    if venv is not None:
        create_venv(venv)
    located = locate(request)
    target, settings, _ = located
    if target.externally_managed and not settings.break_system_packages:
        raise InputError(f"{target.externally_managed}\n(target: {target.executable})")
    return located


def run(
    request: SyncRequest,
    options: ApplyOptions,
    *,
    progress: Progress | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Plan and carry out a sync (or an install) of ``request``. A ``--venv`` this run
    created is removed again when the run fails: pip leaves nothing behind when a hashed
    install fails (issue 15)."""
    created = new_venv(request, options)
    try:
        outcome = _run(request, options, progress or _Silent(), say)
    except BaseException:
        if created is not None:
            _remove_created(created)
        raise
    if created is not None and outcome.exit_code != ExitCode.OK:
        _remove_created(created)
    return outcome


def _remove_created(venv: Path) -> None:
    """Remove the venv this run created; one that cannot be removed is left as it is."""
    import shutil

    shutil.rmtree(venv, ignore_errors=True)


def _run(
    request: SyncRequest,
    options: ApplyOptions,
    progress: Progress,
    say: Callable[[str], None],
) -> Outcome:
    started = time.monotonic()
    located = prepare_target(request, options)
    target, settings, _ = located
    cache_dir = cache_dir_of(settings)
    cache = ArchiveCache(cache_dir)
    try:
        with locked(target, wait_message=say), Clients() as clients:
            interrupted = recover(target)
            if interrupted:
                say(interrupted)
            progress.phase("resolve")
            plan = plan_sync(
                request, located=located, cache=cache, offline=options.offline,
                fill=local_fill(request, say), clients=clients,
            )  # fmt: skip
            try:
                outcome = _carry_out(
                    request, plan, target, cache, cache_dir, options, progress, say, clients
                )
            finally:
                if plan.workspace is not None:
                    plan.workspace.cleanup()
            if outcome.done and outcome.exit_code == ExitCode.OK:
                _leave_receipt(request)
    finally:
        cache.close()
    return _finish(outcome, started)


def _carry_out(
    request: SyncRequest,
    plan: SyncPlan,
    target: Target,
    cache: ArchiveCache,
    cache_dir: Path | None,
    options: ApplyOptions,
    progress: Progress,
    say: Callable[[str], None],
    clients: Clients,
) -> Outcome:
    """Fetch, build and install what ``plan`` changes (for ``--check``, only say so); the
    archives come through the clients the plan was made with."""
    outcome = Outcome(plan)
    changes = [a for a in plan.actions if a.changes]
    if plan.problems or not changes:
        return outcome
    if options.check:
        outcome.drift = True
        return outcome
    assert plan.settings is not None
    archives = _fetch(plan, changes, cache, options, progress, outcome, clients(plan.settings))
    with tempfile.TemporaryDirectory(prefix="pip-hashsync-built-") as scratch:
        built = _build(request, plan, target, cache_dir, options, Path(scratch), progress, say)
        check_wheels(
            {**archives, **{k: _as_archive(archives[k], w) for k, w in built.items()}},
            {k: m for k, m in plan.metadata.items() if k not in built},
        )
        if cache.notice:
            outcome.notices.append(cache.notice)
        unpacked = (
            UnpackedCache(cache_dir, options.link_mode) if cache_dir and not cache.notice else None
        )
        _transact(target, plan, changes, archives, built, options, outcome, unpacked, progress)
    outcome.done = changes
    return outcome


def _leave_receipt(request: SyncRequest) -> None:
    """After a sync changed the environment, the no-op check once more (under the lock),
    which leaves the receipt when it finds the environment synced: the next run is then
    answered from the receipt, not by the whole check (issue 16). Not for ``install``, which
    never removes: what it leaves says nothing about what ``sync`` would do."""
    if not request.additive and receipt_venv(request) is not None:
        synced_count(request, just_changed=True)


def local_fill(request: SyncRequest, say: Callable[[str], None]) -> FillEnv:
    """The ``fill`` of local projects' build environments (imported only when one is built)."""

    def fill(env: BuildEnv, requires: Sequence[str], why: str) -> None:
        from pip_hashsync.commands.building import fill_unpinned

        fill_unpinned(env, requires, why, request=request, say=say)

    return fill


def _finish(outcome: Outcome, started: float) -> Outcome:
    outcome.seconds = time.monotonic() - started
    return outcome


def _build(
    request: SyncRequest,
    plan: SyncPlan,
    target: Target,
    cache_dir: Path | None,
    options: ApplyOptions,
    wheel_dir: Path,
    progress: Progress,
    say: Callable[[str], None],
) -> dict[str, BuiltWheel]:
    """The wheels built from the plan's sdists, by project (none: nothing is imported)."""
    if not plan.builds:
        return {}
    from pip_hashsync.commands.building import build_planned

    assert plan.build_settings is not None and plan.settings is not None
    progress.phase("build", len(plan.builds))
    return build_planned(
        plan.builds,
        plan.build_settings,
        request=request,
        target=target,
        cache_dir=cache_dir,
        config_settings=backend_config_settings(plan.settings.config_settings),
        wheel_dir=wheel_dir,
        workers=options.install_workers,
        say=say,
        finished=progress.advance,
    )


def _as_archive(sdist: Archive, wheel: BuiltWheel) -> Archive:
    """The wheel built from ``sdist``, to be checked as fetched wheels are."""
    return replace(
        sdist, path=wheel.path, filename=wheel.path.name, digests={"sha256": wheel.sha256}
    )


def _fetch(
    plan: SyncPlan,
    changes: list[Action],
    cache: ArchiveCache,
    options: ApplyOptions,
    progress: Progress,
    outcome: Outcome,
    client: HttpClient,
) -> dict[str, Archive]:
    requests = [
        FetchRequest(a.key, a.files, plan.allowed.get(a.key))
        for a in changes
        if a.files and a.key not in plan.local
    ]
    progress.phase("download", len(requests))
    archives, notices = fetch(
        requests, client, cache, offline=options.offline, workers=options.workers,
        progress=progress.received, ready=progress.advance,
    )  # fmt: skip
    outcome.notices.extend(notices)
    return {
        **archives,
        **{a.key: _local_archive(a.key, plan) for a in changes if a.key in plan.local},
    }


def _local_archive(key: str, plan: SyncPlan) -> Archive:
    """The wheel built from a local project or checkout while planning."""
    build = plan.local[key]
    return Archive(
        key, build.wheel.path, build.wheel.path.name, build.direct_url["url"], "local build",
        {"sha256": build.wheel.sha256},
    )  # fmt: skip


def _transact(
    target: Target,
    plan: SyncPlan,
    changes: list[Action],
    archives: dict[str, Archive],
    built: dict[str, BuiltWheel],
    options: ApplyOptions,
    outcome: Outcome,
    unpacked: UnpackedCache | None,
    progress: Progress,
) -> None:
    """Stash what goes, install what comes (wheels in parallel), commit; then compile."""
    removals = [
        plan_removal(target, plan.installed[a.key])
        for a in changes
        if a.action in ("remove", "replace", "reinstall") and a.key in plan.installed
    ]
    for removal in removals:
        outcome.notices.extend(
            f"{removal.dist.name}: RECORD names {row}, outside the environment; left alone"
            for row in removal.skipped
        )
        outcome.notices.extend(
            f"{removal.dist.name}: RECORD names {row}, a folder (RECORD lists files); left alone"
            for row in removal.folders
        )
    wheels = [
        _wheel(archives[a.key], plan, unpacked, built.get(a.key))
        for a in changes
        if a.key in archives
    ]
    with Transaction(target) as transaction:
        for removal in removals:
            transaction.remove(removal)
        progress.phase("install", len(wheels))

        def install(wheel: WheelToInstall) -> None:
            transaction.install(wheel)
            progress.advance()

        workers = max(1, min(options.install_workers, len(wheels)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(install, wheels))
        sources = transaction.written_python_files() if options.compile else []
    if sources:
        progress.phase("compile")
        warning = compile_bytecode(target, sources)
        if warning:
            outcome.notices.append(warning)


def _wheel(
    archive: Archive, plan: SyncPlan, unpacked: UnpackedCache | None, built: BuiltWheel | None
) -> WheelToInstall:
    """What to install for ``archive``: the wheel itself, or the wheel ``built`` from it
    (its provenance is still the sdist, the hash the requirements file allowed)."""
    url = plan.direct_urls.get(archive.key)
    local = plan.local.get(archive.key)
    direct_url = (
        dict(local.direct_url)
        if local
        else {
            "url": redact(url.split("#", 1)[0]),
            "archive_info": {"hashes": dict(archive.digests)},
        }
        if url
        else None
    )
    return WheelToInstall(
        path=built.path if built else archive.path,
        requested=True,
        provenance=Provenance(
            archive.filename,
            archive.digests["sha256"],
            archive.url,
            built.sha256 if built else None,
        ),
        direct_url=direct_url,
        unpacked=None if built or local else unpacked,
    )
