"""Building wheels from verified sdists and local projects (PEP 517, issue 14).

Each build runs in a fresh virtual environment of the target's base interpreter, which the
caller fills (``fill``) with pip-hashsync's own hash-checked installs: first
``build-system.requires``, then what the backend's ``get_requires_for_build_wheel`` asks for
(design policy 11). The backend's hooks run through ``pyproject_hooks`` in that
environment, with their output written to a log file that is shown (its last lines, and
where it is) only when the build fails. Independent builds run in parallel.

A wheel built from an sdist is kept in the :class:`BuiltWheelCache` under the sdist's
sha256 and the build settings (EC50); the sdist's bytes are hashed again before anything
is taken from it, built or cached (EC55).

>>> built = build_wheels([BuildJob(sdist, sha256, sdist.name)], target=target, fill=fill,
...                      cache=BuiltWheelCache(cache_dir), config_settings=None,
...                      log_dir=logs, wheel_dir=work, workers=4)
>>> built[sdist.name].path, built[sdist.name].sha256
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pyproject_hooks import (
    BackendUnavailable,
    BuildBackendHookCaller,
    BuildBackendWarning,
    HookMissing,
    UnsupportedOperation,
)

from pip_hashsync.archives.cache import BuiltWheel, BuiltWheelCache
from pip_hashsync.archives.sdist import read_build_system, unpack_sdist
from pip_hashsync.environment.target import Target
from pip_hashsync.errors import ExitCode, HashsyncError
from pip_hashsync.index.metadata import IntegrityError
from pip_hashsync.requirements.hashes import file_digests

#: Lines of the build log a failure shows.
TAIL_LINES = 25

#: ``--config-settings``, as PEP 517 passes them to the backend.
ConfigSettings = Mapping[str, "str | list[str]"]

# Variables of the caller's environment a build must not see: another interpreter's
# module paths (the build environment is isolated, as pip's is), and pip's own settings
# (an index URL may carry credentials; build code is not pip).
_DROPPED_PREFIXES = ("PIP_",)
_DROPPED = frozenset({"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "__PYVENV_LAUNCHER__"})


class BuildError(HashsyncError):
    """A build failed: exit 5. The message names the project and the step, shows the last
    lines of the build log and says where the whole log is."""

    exit_code = ExitCode.ENVIRONMENT

    def __init__(self, message: str, logs: Sequence[Path] = ()) -> None:
        super().__init__(message)
        #: The logs of the failed builds.
        self.logs = tuple(logs)

    @classmethod
    def of(cls, filename: str, step: str, log: Path, detail: str = "") -> BuildError:
        """The failure of ``step`` of building ``filename``, whose output is in ``log``."""
        lines = [f"Building {filename} failed ({step})."]
        if detail:
            lines.append(detail)
        tail = _tail(log)
        if tail:
            lines += ["The last lines of the build log:", *(f"    {line}" for line in tail)]
        lines.append(f"The whole build log is {log}")
        return cls("\n".join(lines), [log])


@dataclass(frozen=True)
class BuildEnv:
    """A fresh virtual environment of the target's base interpreter, without pip."""

    path: Path
    python: Path

    @classmethod
    def create(cls, target: Target, path: Path, log: Path, filename: str) -> BuildEnv:
        """``<target python> -m venv --without-pip path``: run from inside a virtual
        environment, venv builds on that environment's base interpreter, so nothing
        installed in the target is seen by the build."""
        command = [target.executable, "-I", "-m", "venv", "--without-pip", str(path)]
        with log.open("ab") as out:
            out.write(f"$ {' '.join(command)}\n".encode())
            out.flush()
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
            except OSError as exc:
                out.write(f"{exc}\n".encode())
                done = None
        if done is None or done.returncode:
            raise BuildError.of(filename, "creating the build environment", log)
        scripts = "Scripts" if os.name == "nt" else "bin"
        python = path / scripts / ("python.exe" if os.name == "nt" else "python")
        return cls(path, python)

    @property
    def scripts(self) -> Path:
        return self.python.parent


#: ``fill(env, requirements, why)`` installs the PEP 508 ``requirements`` into ``env``
#: (``env.python``); ``why`` reads like "build-system.requires of foo-1.0.tar.gz". Called
#: from worker threads, at most twice per build (static, then dynamic requirements; the
#: second list may name what the first installed). Raises to stop the build.
FillEnv = Callable[[BuildEnv, Sequence[str], str], None]


@dataclass(frozen=True)
class BuildJob:
    """One wheel to build: from a verified ``sdist`` (whose sha256 the caller checked
    against the allowed hashes), or from the local project ``source_dir`` (never cached,
    built in place, as pip does; ``editable`` for PEP 660)."""

    sdist: Path | None
    sdist_sha256: str | None
    #: The sdist's file name, or a name for the local project: the key of the answer.
    filename: str
    editable: bool = False
    source_dir: Path | None = None

    def __post_init__(self) -> None:
        if (self.sdist is None) == (self.source_dir is None):
            raise ValueError("a build job needs an sdist or a source folder, not both")
        if self.sdist is not None and self.sdist_sha256 is None:
            raise ValueError("an sdist is built only once its sha256 is known")


def settings_key(
    target: Target, config_settings: ConfigSettings | None, build_pins: Collection[str]
) -> str:
    """What a built wheel depends on besides the sdist: the target's interpreter and
    platform, ``--config-settings`` and the pins of the build dependencies."""
    text = json.dumps(
        {
            "tag": target.tags[0] if target.tags else "",
            "platform": target.platform,
            "implementation": target.implementation,
            "version": target.version,
            "config_settings": config_settings or {},
            "build_pins": sorted(build_pins),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def build_wheels(
    jobs: Sequence[BuildJob],
    *,
    target: Target,
    fill: FillEnv,
    cache: BuiltWheelCache | None,
    config_settings: ConfigSettings | None,
    log_dir: Path,
    wheel_dir: Path,
    workers: int,
    build_pins: Collection[str] = (),
    finished: Callable[[], None] = lambda: None,
) -> dict[str, BuiltWheel]:
    """Build every job, ``workers`` at a time; answer by ``job.filename``. ``finished()`` is
    called (from worker threads) as each build ends, built, cached or failed.

    Logs are written to ``log_dir`` (kept: a failure points at its log), wheels that are not
    cached to ``wheel_dir`` (the caller removes it after installing). Every build runs to
    its end; then the failures are raised together as one :class:`BuildError`, or the first
    other error (a hash mismatch, a hostile sdist, a ``fill`` that refused) is raised.
    """
    if not jobs:
        return {}
    log_dir.mkdir(parents=True, exist_ok=True)
    wheel_dir.mkdir(parents=True, exist_ok=True)
    key = settings_key(target, config_settings, build_pins)
    builder = _Builder(target, fill, cache, config_settings, log_dir, wheel_dir, key)
    # pyproject_hooks re-raises the backend's warnings in this process; they are the build's
    # output, shown (like the rest of it) only in its log when it fails, never on a success.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BuildBackendWarning)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
            futures = [pool.submit(builder.build, job) for job in jobs]
            for future in futures:
                future.add_done_callback(lambda _: finished())
    errors = [error for future in futures if (error := future.exception()) is not None]
    failed = [error for error in errors if isinstance(error, BuildError)]
    if len(failed) < len(errors):
        raise next(error for error in errors if not isinstance(error, BuildError))
    if len(failed) == 1:
        raise failed[0]
    if failed:
        logs = [log for failure in failed for log in failure.logs]
        raise BuildError("\n\n".join(str(failure) for failure in failed), logs)
    return {job.filename: future.result() for job, future in zip(jobs, futures, strict=True)}


@dataclass(frozen=True)
class _Builder:
    target: Target
    fill: FillEnv
    cache: BuiltWheelCache | None
    config_settings: ConfigSettings | None
    log_dir: Path
    wheel_dir: Path
    key: str

    def build(self, job: BuildJob) -> BuiltWheel:
        if job.sdist is not None and job.sdist_sha256 is not None:
            _check_sha256(job.sdist, job.sdist_sha256, job.filename)
            hit = self.cache.get(job.sdist_sha256, self.key) if self.cache else None
            if hit is not None:
                return hit
        log = self._new_log(job.filename)
        with tempfile.TemporaryDirectory(prefix="pip-hashsync-build-") as work:
            folder = Path(work)
            if job.sdist is not None:
                source = unpack_sdist(job.sdist, folder / "src")
            else:
                assert job.source_dir is not None
                source = job.source_dir
            wheel = self._run_backend(job, source, folder, log)
            kept = Path(tempfile.mkdtemp(dir=self.wheel_dir)) / wheel.name
            os.replace(wheel, kept)
        if job.sdist_sha256 is not None and not job.editable and self.cache is not None:
            return self.cache.put(job.sdist_sha256, self.key, kept)
        return BuiltWheel(kept, file_digests(str(kept), ["sha256"])["sha256"])

    def _run_backend(self, job: BuildJob, source: Path, folder: Path, log: Path) -> Path:
        """Make the build environment, fill it, run the hooks; the built wheel's path."""
        name = job.filename
        system = read_build_system(source)
        env = BuildEnv.create(self.target, folder / "env", log, name)
        if system.requires:
            self.fill(env, system.requires, f"build-system.requires of {name}")
        hooks = BuildBackendHookCaller(
            str(source),
            system.backend,
            backend_path=list(system.backend_path) or None,
            runner=_runner(env, log),
            python_executable=str(env.python),
        )
        kind = "editable" if job.editable else "wheel"
        step = f"get_requires_for_build_{kind}"
        try:
            if job.editable:
                dynamic = hooks.get_requires_for_build_editable(self.config_settings)
            else:
                dynamic = hooks.get_requires_for_build_wheel(self.config_settings)
            if dynamic:
                self.fill(env, list(dynamic), f"{step} of {name}")
            step = f"build_{kind}"
            out = folder / "out"
            out.mkdir()
            if job.editable:
                built = hooks.build_editable(str(out), self.config_settings)
            else:
                built = hooks.build_wheel(str(out), self.config_settings)
        except subprocess.CalledProcessError:
            raise BuildError.of(name, step, log) from None
        except BackendUnavailable as exc:
            detail = f"The build backend {system.backend} cannot be imported."
            raise BuildError.of(name, step, log, detail) from exc
        except HookMissing as exc:
            detail = f"The build backend {system.backend} has no {exc.hook_name} hook."
            raise BuildError.of(name, step, log, detail) from exc
        except UnsupportedOperation as exc:
            raise BuildError.of(name, step, log, str(exc)) from exc
        except OSError as exc:  # the hook's process could not start, a full disk
            raise BuildError.of(name, step, log, str(exc)) from exc
        wheel = out / str(built)
        if not _WHEEL_NAME.fullmatch(str(built)) or not wheel.is_file():
            detail = f"The backend answered {built!r}, which names no wheel it wrote."
            raise BuildError.of(name, step, log, detail)
        return wheel

    def _new_log(self, filename: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._+-]", "_", filename)[:100] or "build"
        fd, path = tempfile.mkstemp(dir=self.log_dir, prefix=f"{safe}-", suffix=".log")
        os.close(fd)
        return Path(path)


_WHEEL_NAME = re.compile(r"[^/\\]+\.whl")


def _check_sha256(sdist: Path, sha256: str, filename: str) -> None:
    """The sdist still holds the bytes the caller verified: nothing of it is run, or
    taken from the cache on its behalf, otherwise (EC55)."""
    try:
        actual = file_digests(str(sdist), ["sha256"])["sha256"]
    except OSError as exc:
        raise IntegrityError(f"Cannot read {sdist}: {exc.strerror or exc}", filename) from None
    if actual != sha256:
        raise IntegrityError(
            f"{sdist} no longer matches the sha256 it was verified with "
            f"(expected {sha256}, got {actual}); nothing was built from it.",
            filename,
        )


def _runner(env: BuildEnv, log: Path) -> Callable[..., None]:
    """pyproject_hooks' subprocess runner: the hook runs in the build environment, its
    output appended to ``log``; a failure raises ``CalledProcessError``."""

    def run(
        command: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        with log.open("ab") as out:
            subprocess.run(
                command,
                cwd=cwd,
                env=_hook_environ(env, extra_environ or {}),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )

    return run


def _hook_environ(env: BuildEnv, extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment, as isolated as pip's build isolation makes it."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in _DROPPED and not name.startswith(_DROPPED_PREFIXES)
    }
    environ.update(extra)
    environ["PYTHONNOUSERSITE"] = "1"
    environ["VIRTUAL_ENV"] = str(env.path)
    environ["PATH"] = os.pathsep.join(filter(None, [str(env.scripts), environ.get("PATH")]))
    return environ


def _tail(log: Path) -> list[str]:
    try:
        with log.open("rb") as file:
            file.seek(max(0, log.stat().st_size - 64 * 1024))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-TAIL_LINES:]
