"""Local projects and VCS checkouts, outside hash-checking mode (issue 14, item 6).

``install .``, ``install -e .``, ``./dir``, ``file:`` URLs of a folder, ``name @ file:///dir``
and ``git+…@rev`` lines have no archive to choose: their name, version and dependencies
are only known once the project is built. So they are built while planning (a VCS line is
cloned first, at its revision, with the ``git`` executable), through the same machinery as
sdists (:func:`~pip_hashsync.archives.build.build_wheels`, a fresh build environment that
the caller's ``fill`` fills), and the built wheel becomes the line's direct-URL file. The
line keeps its own URL: that is what ``direct_url.json`` records (PEP 610), so tools such as
``pip list --editable`` see what was asked for.

An installed distribution stands for its line when it was installed from the same source:
the same ``direct_url.json`` record (for a checkout, the same commit; for an editable, the
same folder: edits are live) and, for a folder installed as a copy, a built wheel with the
same sha256 as the one installed. Backends that build reproducibly (flit, hatchling, the
tests' backend) are then kept run after run; a backend that stamps the time into its wheels
reinstalls the folder on every run, as pip always does for folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pip_hashsync.archives.cache import BuiltWheel
from pip_hashsync.environment.installed import InstalledDist
from pip_hashsync.environment.target import Target
from pip_hashsync.errors import InputError
from pip_hashsync.index.metadata import metadata_from_archive, parse_metadata
from pip_hashsync.index.pages import FileLink
from pip_hashsync.requirements.reader import Kind, Requirement
from pip_hashsync.settings.config import backend_config_settings
from pip_hashsync.urls import path_to_url, redact, url_to_path

if TYPE_CHECKING:
    from pip_hashsync.archives.build import FillEnv


@dataclass(frozen=True)
class LocalBuild:
    """A local project or checkout built while planning, and how it is recorded."""

    #: The line, named as the built metadata names the project.
    line: Requirement
    wheel: BuiltWheel
    #: The built wheel as the line's only file.
    link: FileLink
    #: PEP 610 ``direct_url.json``.
    direct_url: Mapping[str, Any]

    def differs(self, dist: InstalledDist) -> str | None:
        """Why ``dist`` does not stand for this source (see the module docstring), or None."""
        where = self.direct_url.get("url")
        if dist.direct_url() != self.direct_url:
            return f"not installed from {where} as asked"
        if "dir_info" in self.direct_url and not self.line.editable:
            provenance = dist.provenance()
            if provenance is None or provenance.sha256 != self.wheel.sha256:
                return f"{where} builds a different wheel than the one installed"
        return None


def is_local(line: Requirement) -> bool:
    """Lines built from a folder or a checkout rather than fetched as an archive."""
    return line.editable or line.kind in (Kind.DIRECTORY, Kind.VCS)


def build_local(
    lines: Sequence[Requirement],
    *,
    target: Target,
    fill: FillEnv,
    config_settings: Sequence[tuple[str, str]],
    scratch: Path,
    log_dir: Path,
    workers: int,
) -> list[LocalBuild]:
    """Build every line (clones under ``scratch``, wheels too), in their order, each with
    the run's ``config_settings`` and its own line's on top. Raises :class:`InputError`
    (exit 2: no ``git``, a clone or checkout that fails, a line whose name is not the built
    project's) or ``BuildError`` (exit 5)."""
    from pip_hashsync.archives.build import BuildJob, build_wheels  # pyproject_hooks

    jobs: list[tuple[Requirement, BuildJob, Mapping[str, Any]]] = []
    for number, line in enumerate(lines):
        assert line.url is not None
        record: Mapping[str, Any]
        if line.kind is Kind.VCS and line.editable:
            raise InputError(
                f"{line.source}: {redact(line.url)}: editable checkouts are not supported (pip "
                "keeps the clone in ./src); install it without -e, or clone it and use -e DIR"
            )
        if line.kind is Kind.VCS:
            source, record = _checkout(line, scratch / f"checkout-{number}")
        else:
            source = Path(url_to_path(line.url.split("#", 1)[0]))
            dir_info = {"editable": True} if line.editable else {}
            record = {"url": path_to_url(str(source)), "dir_info": dir_info}
        job = BuildJob(None, None, f"{redact(line.url)} ({number})", line.editable, source)
        jobs.append((line, job, record))
    groups: dict[str, list[BuildJob]] = {}
    for line, job, _ in jobs:
        settings = backend_config_settings(config_settings, line.config_settings)
        groups.setdefault(json.dumps(settings, sort_keys=True), []).append(job)
    built: dict[str, BuiltWheel] = {}
    for settings_json, group in groups.items():
        built |= build_wheels(
            group,
            target=target,
            fill=fill,
            cache=None,
            config_settings=json.loads(settings_json) or None,
            log_dir=log_dir,
            wheel_dir=scratch / "wheels",
            workers=workers,
        )
    answer: list[LocalBuild] = []
    for line, job, record in jobs:
        wheel = built[job.filename]
        with wheel.path.open("rb") as file:
            metadata = parse_metadata(metadata_from_archive(wheel.path.name, file))
        link = FileLink.of_archive(
            wheel.path.name, path_to_url(str(wheel.path)), "local build", {"sha256": wheel.sha256}
        )
        if line.key and line.key != link.name:
            raise InputError(
                f"{line.source}: {line.describe()} is a project named {metadata.name}, "
                f"not {line.name}"
            )
        named = replace(line, name=metadata.name or link.name)
        answer.append(LocalBuild(named, wheel, link, record))
    return answer


def _checkout(line: Requirement, into: Path) -> tuple[Path, dict[str, Any]]:
    """Clone a ``git+`` line at its revision; the folder and its PEP 610 record."""
    assert line.url is not None
    url = line.url.split("#", 1)[0]
    vcs, _, location = url.partition("+")
    if vcs != "git":
        raise InputError(
            f"{line.source}: {redact(url)}: only git checkouts can be installed ({vcs} is not "
            "supported)"
        )
    parts = urllib.parse.urlsplit(location)
    path, at, revision = parts.path.rpartition("@")
    if not at or "/" in revision:
        path, revision = parts.path, ""
    if revision.startswith("-"):
        raise InputError(f"{line.source}: {redact(url)}: {revision!r} is not a git revision")
    repository = urllib.parse.urlunsplit(parts._replace(path=path))
    git = shutil.which("git")
    if git is None:
        raise InputError(
            f"{line.source}: installing {redact(url)} needs git, and no git executable was "
            "found on PATH; install git, or require an archive of the commit instead"
        )
    _git(line, [git, "clone", "--quiet", "--no-checkout", "--", repository, str(into)], None)
    _git(line, [git, "-c", "advice.detachedHead=false", "checkout", "--quiet",
                revision or "HEAD"], into)  # fmt: skip
    _git(line, [git, "submodule", "update", "--init", "--recursive", "--quiet"], into)
    commit = _git(line, [git, "rev-parse", "HEAD"], into).strip()
    vcs_info = {"vcs": "git", "commit_id": commit}
    if revision:
        vcs_info["requested_revision"] = revision
    return into, {"url": redact(repository), "vcs_info": vcs_info}


def _git(line: Requirement, command: list[str], cwd: Path | None) -> str:
    """Run git without a terminal prompt; its output, or :class:`InputError` with its error."""
    environ = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(
        command, cwd=cwd, env=environ, capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode:
        shown = " ".join(redact(word) if "://" in word else word for word in command[1:])
        raise InputError(
            f"{line.source}: git {shown} failed for {redact(line.url or '')}:\n"
            f"{done.stderr.strip()}"
        )
    return done.stdout
