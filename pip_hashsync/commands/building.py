"""Building the plan's sdists into wheels, with build environments that pip-hashsync fills
itself (design policy 11).

Each build gets a fresh venv of the target's base interpreter. What goes into it — the
``build-system.requires`` the plan settled, then what the backend's
``get_requires_for_build_wheel`` asks for, settled against the same pins — is installed by
a nested ``install`` of pip-hashsync: hash-checked, from the same indexes and cache, with
the build constraints completing the closure. Builds run before the target changes; a
build that fails leaves it as it was.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pip_hashsync.archives.build import BuildEnv, BuildJob, build_wheels
from pip_hashsync.archives.cache import BuiltWheel, BuiltWheelCache
from pip_hashsync.environment.target import Target
from pip_hashsync.errors import HashsyncError, render_problems
from pip_hashsync.resolve.buildpins import (
    BuildPins,
    explain_missing_build_pins,
    pin_build_requires,
)
from pip_hashsync.resolve.builds import BuildSettings, PlannedBuild, write_pins
from pip_hashsync.settings.request import SyncRequest


class BuildDependencyError(HashsyncError):
    """A build environment that cannot be filled as the pins say: the problems' own exit
    code (2 for a requirement no pin satisfies, 3 for bytes that fail their hash)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[assignment]


def build_planned(
    builds: Mapping[str, PlannedBuild],
    settings: BuildSettings,
    *,
    request: SyncRequest,
    target: Target,
    cache_dir: Path | None,
    config_settings: Mapping[str, str | list[str]],
    wheel_dir: Path,
    workers: int,
    say: Callable[[str], None],
    finished: Callable[[], None],
) -> dict[str, BuiltWheel]:
    """The wheel built from each planned sdist, by project (``wheel_dir`` holds the ones not
    cached until they are installed); ``finished()`` is called as each build ends. Raises
    :class:`BuildError` (exit 5; logs are kept in the cache folder, else the temporary
    folder) or :class:`BuildDependencyError`."""
    jobs = {
        key: BuildJob(build.sdist.path, build.sdist.digests["sha256"], build.sdist.filename)
        for key, build in builds.items()
    }
    static = {build.sdist.filename: build.requires for build in builds.values()}
    logs = Path(cache_dir or tempfile.gettempdir(), "build-logs")
    wheels = build_wheels(
        list(jobs.values()),
        target=target,
        fill=_filler(request, settings, static, say),
        cache=BuiltWheelCache(cache_dir),
        config_settings=dict(config_settings),
        log_dir=logs,
        wheel_dir=wheel_dir,
        workers=workers,
        build_pins=[settings.pins.fingerprint()],
        finished=finished,
    )
    return {key: wheels[job.filename] for key, job in jobs.items()}


def _filler(
    request: SyncRequest,
    settings: BuildSettings,
    static: Mapping[str, Sequence[str]],
    say: Callable[[str], None],
) -> Callable[[BuildEnv, Sequence[str], str], None]:
    """The ``fill`` callback of :func:`build_wheels`: the plan's settled lines for
    ``build-system.requires``; for a later step, its requirements settled now."""

    def fill(env: BuildEnv, requires: Sequence[str], why: str) -> None:
        sdist = why.rpartition(" of ")[2]
        if why.startswith("build-system.requires") and sdist in static:
            lines = tuple(static[sdist])
        else:
            step = why.partition(" of ")[0]
            needs = pin_build_requires(
                requires, settings.pins, settings.marker_env, sdist=sdist, why=step,
                mode=settings.mode,
            )  # fmt: skip
            problems = [
                *needs.problems,
                *explain_missing_build_pins(needs.missing, settings.files_of, settings.target),
            ]
            if problems:
                raise BuildDependencyError(render_problems(problems), 2)
            for warning in needs.warnings:
                say(f"WARNING: {warning}")
            lines = needs.lines
        if lines:
            _install_into(env, lines, request, settings.pins, say, verify=settings.mode == "verify")

    return fill


def fill_unpinned(
    env: BuildEnv,
    requires: Sequence[str],
    why: str,
    *,
    request: SyncRequest,
    say: Callable[[str], None],
) -> None:
    """The ``fill`` of local projects' builds outside hash-checking mode: what the backend
    asks for, resolved from the indexes as any requirement is there (no pins, no hashes)."""
    if requires:
        _install_into(env, requires, request, None, say, verify=True)


def _install_into(
    env: BuildEnv,
    lines: Sequence[str],
    request: SyncRequest,
    pins: BuildPins | None,
    say: Callable[[str], None],
    *,
    verify: bool,
) -> None:
    """pip-hashsync's own ``install`` of ``lines`` into the build environment, with the
    ``pins`` as constraints; ``verify``: hashes checked where given, not required."""
    from pip_hashsync.commands.sync import ApplyOptions, run  # the command that called us

    with tempfile.TemporaryDirectory(prefix="pip-hashsync-build-") as folder:
        wanted = Path(folder, "build-requirements.txt")
        wanted.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        constraints = [str(write_pins(pins, Path(folder, "build-constraints.txt")))] if pins else []
        options = {k: v for k, v in request.pip_options.items() if k != "constraint"}
        # Build dependencies come as wheels: one that is only an sdist would need a build
        # environment of its own, and a backend that builds itself would never end.
        options["only-binary"] = [":all:"]
        if verify:
            options["no-require-hashes"] = True
        nested = SyncRequest(
            files=[str(wanted)],
            constraints=constraints,
            python=str(env.python),
            pip_options=options,
            additive=True,
            closure_from_constraints=True,
        )
        outcome = run(nested, ApplyOptions(), say=say)
    if outcome.plan.problems:
        raise BuildDependencyError(
            f"The build environment {env.path} could not be filled:\n"
            + render_problems(outcome.plan.problems),
            outcome.exit_code,
        )
