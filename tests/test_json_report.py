"""``--format json`` (issue 18 item 1): every command prints exactly one JSON object on stdout,
whatever the outcome — success, drift, problems, an error that stopped the run — and every
object is valid against the documented schema shipped with the package
(``pip_hashsync/schema/report.json``).

Each test runs the real command line in-process against a real loopback index and real venvs;
``report()`` checks that stdout is one JSON object and nothing else, that it validates, and
that its ``exit_code`` is the process's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main

# The test extra has it; tox's pip23/24/25 envs (pip's internals only) do not.
jsonschema = pytest.importorskip("jsonschema")

SHA_OTHER = "0" * 64

Report = dict[str, Any]


def _schema() -> dict[str, Any]:
    text = resources.files("pip_hashsync").joinpath("schema/report.json").read_text("utf-8")
    return dict(json.loads(text))


VALIDATOR = jsonschema.Draft202012Validator(_schema())


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> Report:
    """Run ``argv`` with ``--format json``: its one JSON object, checked against the schema
    and against the exit code."""
    code = main([*argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    data = json.loads(out)  # one object and nothing else: any other output fails to parse
    assert isinstance(data, dict), out
    VALIDATOR.validate(data)
    assert data["exit_code"] == code, (data, err)
    assert data["command"] == argv[0]
    return data


@pytest.fixture
def locked(workdir: Path, dist_dir: Path) -> dict[str, Path]:
    """``requirements.txt`` pinning alpha 1.0 and beta 2.0 by hash, both served."""
    wheels = {"alpha": build_wheel(dist_dir, "alpha", "1.0"),
              "beta": build_wheel(dist_dir, "beta", "2.0")}  # fmt: skip
    write(Path("requirements.txt"), "".join(
        f"{name}=={w.name.split('-')[1]} --hash=sha256:{sha256_of(w)}\n"
        for name, w in wheels.items()
    ))  # fmt: skip
    return wheels


def actions(data: Report) -> dict[str, tuple[str, bool]]:
    return {a["name"]: (a["action"], a["done"]) for a in data["actions"]}


# -- sync and install -------------------------------------------------------------------------


def test_sync_real_run_reports_each_action_done(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str],
    venv: Path,
) -> None:  # fmt: skip
    data = report(capsys, "sync", "requirements.txt", *target_args)
    assert data["exit_code"] == 0 and data["mode"] == "apply" and data["changed"] is True
    assert actions(data) == {"alpha": ("install", True), "beta": ("install", True)}
    alpha = data["actions"][0]
    assert alpha["file"] == locked["alpha"].name
    assert alpha["sha256"] == sha256_of(locked["alpha"])
    assert alpha["reason"] == "not installed"
    assert data["counts"] == {"install": 2, "replace": 0, "reinstall": 0, "remove": 0, "keep": 0}
    assert data["target"]["prefix"] == str(venv)
    assert data["hash_mode"] is True and data["problems"] == []
    assert data["timings"]["total"] >= 0


def test_sync_already_synced_reports_every_kept_project(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str]
) -> None:
    """The no-op run is reported in full (what is kept, and why), not as a bare count."""
    assert main(["sync", "requirements.txt", *target_args, "-q"]) == 0
    capsys.readouterr()
    data = report(capsys, "sync", "requirements.txt", *target_args)
    assert data["exit_code"] == 0 and data["changed"] is False
    assert actions(data) == {"alpha": ("keep", False), "beta": ("keep", False)}


def test_sync_check_reports_drift_with_exit_1(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str]
) -> None:
    data = report(capsys, "sync", "requirements.txt", "--check", *target_args)
    assert (data["exit_code"], data["mode"], data["changed"]) == (1, "check", False)
    assert actions(data) == {"alpha": ("install", False), "beta": ("install", False)}


def test_sync_dry_run_and_a_removal(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str]
) -> None:
    assert main(["sync", "requirements.txt", *target_args, "-q"]) == 0
    capsys.readouterr()
    write(Path("requirements.txt"), Path("requirements.txt").read_text().splitlines()[0] + "\n")
    data = report(capsys, "sync", "requirements.txt", "--dry-run", *target_args)
    assert (data["exit_code"], data["mode"], data["changed"]) == (0, "dry-run", False)
    assert actions(data) == {"alpha": ("keep", False), "beta": ("remove", False)}
    assert data["actions"][1]["installed_version"] == "2.0"


def test_sync_hash_failure_is_one_object_with_exit_3_and_plain_messages(
    capsys: pytest.CaptureFixture[str], workdir: Path, dist_dir: Path, target_args: list[str]
) -> None:
    """Nothing matched: the problem's message has no layout (no indentation, no
    continuation backslashes, no file:line prefix: that is ``source``)."""
    build_wheel(dist_dir, "alpha", "1.0")
    write(Path("requirements.txt"), f"alpha==1.0 --hash=sha256:{SHA_OTHER}\n")
    data = report(capsys, "sync", "requirements.txt", *target_args)
    assert data["exit_code"] == 3 and data["changed"] is False
    (problem,) = data["problems"]
    assert problem["kind"] == "no-match" and problem["name"] == "alpha"
    assert problem["source"] == "requirements.txt:1"
    lines = problem["message"].splitlines()
    assert lines[0].startswith("alpha==1.0: no distribution matched")
    assert all(line == line.strip() and not line.endswith("\\") for line in lines)
    assert any(line.startswith("alpha==1.0 --hash=sha256:") for line in lines), lines


def test_sync_input_problems_exit_2(
    capsys: pytest.CaptureFixture[str], workdir: Path, target_args: list[str]
) -> None:
    write(Path("requirements.txt"), "alpha>=1.0 --hash=sha256:" + SHA_OTHER + "\n")
    data = report(capsys, "sync", "requirements.txt", *target_args)
    assert data["exit_code"] == 2
    assert [(p["kind"], p["source"]) for p in data["problems"]] == [
        ("unpinned", "requirements.txt:1")
    ]


def test_sync_index_down_exit_4(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str],
    index_server: IndexServer,
) -> None:  # fmt: skip
    index_server.stop()
    data = report(capsys, "sync", "requirements.txt", *target_args)
    assert data["exit_code"] == 4
    assert {p["kind"] for p in data["problems"]} == {"network"}


def test_sync_raised_error_is_one_object(
    capsys: pytest.CaptureFixture[str], workdir: Path, tmp_path: Path
) -> None:
    """An error raised before any plan (no such interpreter) still ends as one object."""
    write(Path("requirements.txt"), "alpha==1.0\n")
    data = report(capsys, "sync", "requirements.txt", "--python", str(tmp_path / "nope"))
    assert data["exit_code"] != 0 and data["target"] is None
    (problem,) = data["problems"]
    assert str(tmp_path / "nope") in problem["message"]
    assert "actions" not in data


def test_sync_without_a_file_is_one_object(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    data = report(capsys, "sync")
    assert data["exit_code"] == 2
    assert "requirements file" in data["problems"][0]["message"]


@pytest.mark.parametrize(
    ("fault", "code", "kind"),
    [("fail-after-writes:2", 5, "environment"), ("interrupt-after-writes:2", 130, "interrupted")],
)
def test_sync_stopped_part_way_is_one_object(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str],
    monkeypatch: pytest.MonkeyPatch, fault: str, code: int, kind: str,
) -> None:  # fmt: skip
    """An install that fails (rolled back: exit 5) or is interrupted (exit 130) part way."""
    monkeypatch.setenv("PIP_HASHSYNC_FAULT", fault)
    data = report(capsys, "sync", "requirements.txt", *target_args)
    assert (data["exit_code"], data["problems"][0]["kind"]) == (code, kind)


def test_a_bug_is_one_object_with_exit_70(
    capsys: pytest.CaptureFixture[str], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug cannot be provoked through real inputs: one is planted in ``lint``."""

    def planted(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr("pip_hashsync.commands.lint.lint", planted)
    data = report(capsys, "lint", "requirements.txt")
    assert data["exit_code"] == 70
    assert data["problems"] == [
        {"kind": "internal", "name": None, "source": None, "message": "RuntimeError: planted"}
    ]


def test_install_and_its_dry_run(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str]
) -> None:
    data = report(capsys, "install", "-r", "requirements.txt", "--dry-run", *target_args)
    assert (data["exit_code"], data["mode"]) == (0, "dry-run")
    data = report(capsys, "install", "-r", "requirements.txt", *target_args)
    assert (data["exit_code"], data["mode"], data["changed"]) == (0, "apply", True)
    assert actions(data) == {"alpha": ("install", True), "beta": ("install", True)}


def test_install_without_a_requirement_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert report(capsys, "install")["exit_code"] == 2


# -- lint, verify, hashes ---------------------------------------------------------------------


def test_lint_ok_and_with_problems(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    write(Path("requirements.txt"), f"alpha==1.0 --hash=sha256:{SHA_OTHER}\n")
    data = report(capsys, "lint", "requirements.txt")
    assert data["exit_code"] == 0 and data["requirements"][0]["name"] == "alpha"
    write(Path("requirements.txt"), f"alpha==1.0 --hash=sha256:{SHA_OTHER}\nbeta==1.0\n")
    data = report(capsys, "lint", "requirements.txt")
    assert data["exit_code"] == 2
    (problem,) = data["problems"]
    assert (problem["kind"], problem["name"], problem["source"]) == (
        "missing-hash", "beta", "requirements.txt:2"
    )  # fmt: skip


def test_lint_missing_file_and_no_file(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    assert report(capsys, "lint", "missing.txt")["exit_code"] == 2
    assert report(capsys, "lint")["exit_code"] == 2


def test_verify_clean_findings_and_bad_target(
    capsys: pytest.CaptureFixture[str], locked: dict[str, Path], target_args: list[str],
    venv: Path, tmp_path: Path,
) -> None:  # fmt: skip
    assert main(["sync", "requirements.txt", *target_args, "-q"]) == 0
    capsys.readouterr()
    data = report(capsys, "verify", "--venv", str(venv), "-r", "requirements.txt")
    assert data["exit_code"] == 0 and data["findings"] == []
    assert data["checked"]["distributions"] == 2 and data["target"]["prefix"] == str(venv)
    (next(venv.glob("lib/python*/site-packages")) / "alpha" / "__init__.py").write_text("x\n")
    data = report(capsys, "verify", "--venv", str(venv))
    assert data["exit_code"] == 1 and data["findings"][0]["kind"] == "changed"
    data = report(capsys, "verify", "--venv", str(tmp_path / "nope"))
    assert data["exit_code"] == 2 and data["problems"]


def test_hashes_write_check_dry_run_and_failure(
    capsys: pytest.CaptureFixture[str], workdir: Path, dist_dir: Path,
    index_server: IndexServer,
) -> None:  # fmt: skip
    wheel = build_wheel(dist_dir, "alpha", "1.0")
    index = ["-i", index_server.index_url]
    write(Path("requirements.txt"), "alpha==1.0\nbeta>=1\n")
    data = report(capsys, "hashes", "requirements.txt", "--check", *index)
    assert (data["exit_code"], data["mode"]) == (2, "check")
    assert data["drift"] and [p["name"] for p in data["skipped"]] == ["beta"]
    data = report(capsys, "hashes", "requirements.txt", "--dry-run", *index)
    assert data["mode"] == "dry-run"
    assert f"+    --hash=sha256:{sha256_of(wheel)}" in data["diff"]
    data = report(capsys, "hashes", "requirements.txt", *index)
    assert (data["exit_code"], data["mode"]) == (0, "write")
    assert data["files"] == [{"path": "requirements.txt", "changed": True,
                              "written": "requirements.txt"}]  # fmt: skip
    data = report(capsys, "hashes", "requirements.txt", "gamma==1.0", *index)
    assert data["exit_code"] == 4 and data["problems"][0]["kind"] == "not-found"


def test_subprocess_stdout_is_only_the_object(
    locked: dict[str, Path], target_args: list[str], tmp_path: Path
) -> None:
    """As a user runs it, into a ``--venv`` the run creates: stdout parses whole."""
    args = [*target_args]
    args[1] = str(tmp_path / "new-venv")
    done = subprocess.run(
        [sys.executable, "-m", "pip_hashsync", "sync", "requirements.txt", *args,
         "--format", "json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    VALIDATOR.validate(json.loads(done.stdout))
