"""Build dependencies in hash-checking mode (issue 14, policy 11, EC54): which pins may
supply a build, what is missing, and paste-ready lines from a real local index."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distbuilder import build_sdist, build_wheel, sha256_of
from helpers import SHA_A, SHA_B, SHA_C, write
from indexserver import IndexServer
from packaging.version import Version

from pip_hashsync.cli import main
from pip_hashsync.environment.target import Target, find_target
from pip_hashsync.errors import ExitCode, render_problems
from pip_hashsync.index.http import HttpClient, HttpSettings
from pip_hashsync.index.pages import Index
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.reader import RequirementSet, RequirementsReader
from pip_hashsync.resolve.buildpins import (
    BuildPins,
    BuildRequires,
    MissingBuildPin,
    explain_missing_build_pins,
    pin_build_requires,
    read_build_pins,
    suggest_build_pins,
)
from pip_hashsync.resolve.diagnostics import exit_code_for, explain_no_candidates
from pip_hashsync.resolve.provider import HashAwareProvider, Policy, TargetFacts, Want
from pip_hashsync.settings.config import Settings
from pip_hashsync.settings.request import BuildHashes


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    """The running interpreter, introspected as sync introspects a target."""
    return find_target(None, None, tmp_path_factory.mktemp("target-cache"))


def facts(target: Target) -> TargetFacts:
    return TargetFacts(Version(target.version), target.tag_ranks, target.marker_env)


@pytest.fixture
def index(index_server: IndexServer) -> Iterator[Index]:
    client = HttpClient(HttpSettings.from_settings(Settings(index_urls=(index_server.index_url,))))
    yield Index(client, (index_server.index_url,))
    client.close()


def read_lines(workdir: Path, text: str) -> RequirementSet:
    return RequirementsReader().read([str(write(workdir / "requirements.txt", text))])


def pins_of(
    workdir: Path,
    target: Target,
    requirements: str,
    build: str | None,
    mode: BuildHashes = "require",
) -> tuple[BuildPins, list[str], list[str]]:
    """Pins of a requirements file and a build constraints file; problems as text."""
    files = [str(write(workdir / "build.txt", build))] if build is not None else []
    applies = rules.applies_in(target.marker_env(""))
    pins, problems, warnings = read_build_pins(
        files,
        read_lines(workdir, requirements),
        applies,
        mode,
    )
    return pins, [str(p) for p in problems], warnings


def settle(
    pins: BuildPins,
    requires: list[str],
    env: dict[str, str] | None = None,
    mode: BuildHashes = "require",
    why: str = "build-system.requires",
) -> BuildRequires:
    """The requirements of a build of demo-1.0.tar.gz, settled against ``pins``."""
    return pin_build_requires(
        requires,
        pins,
        env or {},
        sdist="demo-1.0.tar.gz",
        why=why,
        mode=mode,
    )


def test_pins_come_from_build_constraints_and_the_requirements_hashed_lines(
    workdir: Path, target: Target
) -> None:
    """pip-compile --allow-unsafe locks list setuptools: such a line pins a build dependency;
    a build constraints file's pin of a project wins over the requirements file's."""
    pins, problems, _ = pins_of(
        workdir,
        target,
        f"""
        wheel==0.44.0 --hash=sha256:{SHA_B}
        setuptools==69.0.0 --hash=sha256:{SHA_C}
        six==1.17.0
        """,
        f"setuptools==70.0.0 --hash=sha256:{SHA_A}\n",
    )
    assert problems == []
    assert sorted(pins.pins) == ["setuptools", "wheel"]  # six has no hash: not a pin
    needs = settle(pins, ["setuptools[core]>=61", "wheel"], target.marker_env(""))
    assert needs.ok and needs.warnings == ()
    assert needs.lines == (
        f"setuptools[core]==70.0.0 --hash=sha256:{SHA_A}",
        f"wheel==0.44.0 --hash=sha256:{SHA_B}",
    )
    # The lines are requirements-file lines for the build environment's own install.
    again = RequirementsReader().read([], arguments=needs.lines)
    assert again.problems == [] and [r.hashes[0].value for r in again.requirements] == [
        SHA_A,
        SHA_B,
    ]


def test_a_marker_false_for_the_target_needs_no_pin(workdir: Path, target: Target) -> None:
    pins, _, _ = pins_of(workdir, target, f"six==1.17.0 --hash=sha256:{SHA_A}\n", None)
    requires = ['pywin32>=300; sys_platform == "nonesuch"', 'tomli; python_version < "3"']
    needs = settle(pins, requires, target.marker_env(""), why="get_requires_for_build_wheel")
    assert needs.ok and needs.lines == ()


def test_a_build_constraint_without_a_hash_is_a_problem_in_require_mode(
    workdir: Path, target: Target
) -> None:
    build = f"setuptools==70.0.0\nwheel>=0.40\nflit-core==3.9.0 --hash=sha256:{SHA_A}\n"
    _, problems, _ = pins_of(workdir, target, "", f"{build}hatchling>=1 --hash=sha256:{SHA_B}\n")
    assert problems[0].startswith(f"{workdir / 'build.txt'}:4: hatchling>=1 has --hash but is not")
    assert problems[1:] == [
        f"{workdir / 'build.txt'}:1: setuptools==70.0.0: a build constraint must pin one "
        "version with == and list a --hash for each file it may be installed from "
        "(--build-hashes require, the default)",
        f"{workdir / 'build.txt'}:2: wheel>=0.40: a build constraint must pin one version "
        "with == and list a --hash for each file it may be installed from (--build-hashes "
        "require, the default)",
    ]
    # pip's behaviour with --build-hashes verify: the pin is used, unchecked, with a warning.
    pins, problems, warnings = pins_of(workdir, target, "", build, mode="verify")
    assert problems == [] and sorted(pins.pins) == ["flit-core", "setuptools"]
    assert "wheel>=0.40 is not pinned" in warnings[0]
    needs = settle(pins, ["setuptools"], mode="verify")
    assert needs.ok and needs.lines == ("setuptools==70.0.0",)
    assert "has no --hash: installed without hash checking" in needs.warnings[0]


def test_an_unreadable_build_constraints_file_is_bad_input(workdir: Path, target: Target) -> None:
    applies = rules.applies_in(target.marker_env(""))
    _, problems, _ = read_build_pins(["nonesuch.txt"], RequirementSet(), applies)
    assert [p.kind for p in problems] == ["file"]
    assert "Could not read constraints file nonesuch.txt" in problems[0].message


def test_verify_mode_warns_per_unverified_dependency_and_passes_it_through(
    workdir: Path, target: Target
) -> None:
    pins, _, _ = pins_of(workdir, target, f"wheel==0.44.0 --hash=sha256:{SHA_B}\n", None)
    requires = ["setuptools>=61; python_version >= '3'", "wheel"]
    needs = settle(pins, requires, target.marker_env(""), mode="verify")
    assert needs.ok
    assert needs.lines == ("setuptools>=61", f"wheel==0.44.0 --hash=sha256:{SHA_B}")
    assert needs.warnings == (
        "setuptools>=61 (build-system.requires of demo-1.0.tar.gz) is installed without hash "
        "checking: no build constraint pins it (--build-hashes verify)",
    )


@pytest.mark.parametrize("mode", ["require", "verify"])
def test_a_pin_outside_the_specifier_is_missing_in_both_modes(
    workdir: Path, target: Target, index: Index, mode: BuildHashes
) -> None:
    """The build could not get what it asks for: say so before building, naming the pin."""
    pins, _, _ = pins_of(workdir, target, "", f"setuptools==60.0.0 --hash=sha256:{SHA_A}\n")
    needs = settle(pins, ["setuptools>=61"], mode=mode)
    assert needs.lines == () and not needs.ok
    (problem,) = explain_missing_build_pins(needs.missing, index.files, facts(target))
    assert (
        f"demo-1.0.tar.gz: setuptools>=61 (build-system.requires); {workdir / 'build.txt'}:1 "
        "pins setuptools==60.0.0, which does not satisfy it" in problem.message
    )


def test_a_missing_build_dependency_lists_every_file_of_the_version_the_index_gives(
    workdir: Path,
    target: Target,
    dist_dir: Path,
    index_server: IndexServer,
    index: Index,
) -> None:
    """Each sdist that needs the project, what for, and paste-ready lines for every file of
    the best version (not a pre-release, not yanked, not one the target's Python cannot
    use), digests from the page; pasted into a build constraints file, they settle it."""
    build_wheel(dist_dir, "setuptools", "69.0.0")
    files = [
        build_wheel(dist_dir, "setuptools", "70.0.0"),
        build_sdist(dist_dir, "setuptools", "70.0.0"),
    ]
    files.append(
        build_wheel(dist_dir, "setuptools", "70.0.0", tag="py3-none-manylinux_2_17_x86_64")
    )
    build_wheel(dist_dir, "setuptools", "71.0.0rc1")
    yanked = build_wheel(dist_dir, "setuptools", "71.0.0")
    index_server.yanked[yanked.name] = "broken"
    too_new = build_wheel(dist_dir, "setuptools", "72.0.0")
    index_server.requires_python[too_new.name] = ">=4"
    pins, _, _ = pins_of(workdir, target, f"wheel==0.44.0 --hash=sha256:{SHA_B}\n", None)
    missing: list[MissingBuildPin] = []
    for sdist, requires, why in [
        ("demo-1.0.tar.gz", ["setuptools>=61", "wheel"], "build-system.requires"),
        ("other-2.0.zip", ["setuptools<71"], "get_requires_for_build_wheel"),
    ]:
        needs = pin_build_requires(requires, pins, {}, sdist=sdist, why=why)
        missing.extend(needs.missing)
    problems = explain_missing_build_pins(missing, index.files, facts(target))
    assert [(p.kind, p.name) for p in problems] == [("build-dependency", "setuptools")]
    assert exit_code_for(problems) == ExitCode.BAD_INPUT
    digests = sorted(sha256_of(path) for path in files)
    suggestion = "setuptools==70.0.0 \\\n" + " \\\n".join(
        f"            --hash=sha256:{digest}" for digest in digests
    )
    assert problems[0].message == (
        "setuptools is needed to build these sdists, but no --build-constraint file or hashed "
        "line of the requirements files pins a version they accept:\n"
        "        demo-1.0.tar.gz: setuptools>=61 (build-system.requires)\n"
        "        other-2.0.zip: setuptools<71 (get_requires_for_build_wheel)\n"
        "    Pin it with its hashes in a build constraints file (--build-constraint FILE) or "
        "in the requirements file, e.g.:\n"
        f"        {suggestion}"
    )
    assert "every dependency of a build is pinned and hashed" in render_problems(problems)
    assert not any(path.startswith("/files/") for _, path in index_server.requests)

    pasted = "\n".join(line.strip() for line in suggestion.splitlines()) + "\n"
    pins, problems_after, _ = pins_of(workdir, target, "", pasted)
    needs = settle(pins, ["setuptools>=61"])
    assert problems_after == [] and needs.ok
    assert needs.lines == ("setuptools==70.0.0" + "".join(f" --hash=sha256:{d}" for d in digests),)


def test_files_without_an_advertised_sha256_are_named_not_downloaded(
    target: Target, dist_dir: Path, index_server: IndexServer, index: Index
) -> None:
    wheel = build_wheel(dist_dir, "flit-core", "3.9.0")
    sdist = build_sdist(dist_dir, "flit-core", "3.9.0")
    index_server.advertise = "sha512"
    lines = suggest_build_pins("flit_core>=3.8", index.files, facts(target))
    origin = index_server.index_url
    assert lines == [
        f"# {wheel.name}: {origin} advertises no sha256; download it and add its --hash",
        f"# {sdist.name}: {origin} advertises no sha256; download it and add its --hash",
    ]
    assert not any(path.startswith("/files/") for _, path in index_server.requests)


def test_nothing_on_the_index_is_said_in_a_comment(target: Target, index: Index) -> None:
    assert suggest_build_pins("hatchling>=1", index.files, facts(target)) == [
        "# no version of hatchling on the configured indexes satisfies 'hatchling>=1' on this "
        "target"
    ]


# Refusing to build (issue 14 item 4) ------------------------------------------------------


def test_only_binary_with_only_an_sdist_matching_is_a_refused_build_exit_3(
    tmp_path: Path,
    workdir: Path,
    dist_dir: Path,
    index_server: IndexServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--only-binary :all:``: "only an sdist matched", naming it, exit 3; the allowed wheel
    built for another platform is named too."""
    sdist = build_sdist(dist_dir, "demo", "1.0")
    other = build_wheel(dist_dir, "demo", "1.0", tag="py3-none-nonesuch_platform")
    digests = f"--hash=sha256:{sha256_of(sdist)} --hash=sha256:{sha256_of(other)}"
    write(workdir / "requirements.txt", f"demo==1.0 {digests}\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    argv = ["sync", "--dry-run", "--format", "json", "requirements.txt", "--venv", str(venv)]
    argv += ["-i", index_server.index_url, "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--only-binary", ":all:"]) == ExitCode.HASH_FAILURE
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem["kind"] == "no-build"
    text = problem["message"]
    assert text.startswith(
        "demo==1.0: only an sdist matched, and building it is refused (excluded by --only-binary):"
    )
    assert f"demo-1.0.tar.gz sha256:{sha256_of(sdist)}" in text
    assert f"belongs to {other.name}, which cannot be used: not compatible" in text


def test_no_build_refuses_every_sdist(
    workdir: Path, target: Target, dist_dir: Path, index: Index
) -> None:
    """``--no-build`` is a format policy of the provider: an sdist is never a candidate."""
    sdist = build_sdist(dist_dir, "demo", "1.0")
    line = read_lines(workdir, f"demo==1.0 --hash=sha256:{sha256_of(sdist)}\n").requirements[0]
    allowed = rules.allowed_hashes(RequirementSet(requirements=[line]), lambda _: True)
    provider = HashAwareProvider(
        files_of=index.files,
        metadata_of=lambda candidate: pytest.fail("no metadata is read"),
        target=facts(target),
        policy=Policy(no_build=True),
        allowed=allowed,
        constraints={},
        closed=True,
        listed=frozenset({"demo"}),
    )
    want = Want("demo", frozenset(), line.specifier, line=line)
    assert provider.find_matches("demo", {"demo": iter([want])}, {"demo": iter([])}) == []
    problem = explain_no_candidates(want, provider.evidence["demo"], 1, allowed["demo"])
    assert problem.kind == "no-build" and exit_code_for([problem]) == ExitCode.HASH_FAILURE
    assert "building it is refused (excluded by --no-build)" in problem.message
    assert "demo-1.0.tar.gz" in problem.message
