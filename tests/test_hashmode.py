"""Hash-checking mode rules, one or more tests per edge case (EC1–EC16, EC25–EC36).

Each test names its EC and states our decision (the "pip-hashsync:" bullet of
``reference/edge-cases.md``); where we deliberately differ from pip the docstring says so.
Every test runs in ``workdir`` with relative file names, so sources read ``requirements.txt:N``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers import SHA512_A, SHA_A, SHA_B, SHA_C, kinds, write

from pip_hashsync.cli import main
from pip_hashsync.commands.lint import LintReport, lint
from pip_hashsync.errors import GROUP_HEADS, Source
from pip_hashsync.requirements import rules
from pip_hashsync.requirements.hashes import (
    AllowedHashes,
    Digest,
    InvalidDigest,
    parse_hash_option,
    url_fragment_digests,
)
from pip_hashsync.requirements.reader import Kind, RequirementsReader

pytestmark = pytest.mark.usefixtures("workdir")

REQS = "requirements.txt"
CONS = "constraints.txt"
ALLOWED_ALGORITHMS = "Allowed hash algorithms for --hash are sha256, sha384, sha512."
NO_COLON = (
    "Arguments to --hash must be a hash name followed by a value, like --hash=sha256:abcde..."
)
MD5_A = hashlib.md5(b"a").hexdigest()
SHA384_A = hashlib.sha384(b"a").hexdigest()


def lint_files(requirements: str, constraints: str | None = None, **kwargs: bool) -> LintReport:
    """Write ``requirements.txt`` (and ``constraints.txt``) and lint them as the CLI would."""
    write(Path(REQS), requirements)
    cons = [str(write(Path(CONS), constraints))] if constraints is not None else []
    return lint([REQS], cons, **kwargs)


def problems_of(report: LintReport, kind: str) -> list[tuple[str, str]]:
    """``(file:line, message)`` of every problem of one kind, in report order."""
    return [(str(p.source), p.message) for p in report.problems if p.kind == kind]


def sources(report: LintReport) -> list[str]:
    return [str(p.source) for p in report.problems]


# ---------------------------------------------------------------------------------------
# A. Switching hash mode on and off


def test_ec1_one_hash_turns_mode_on_for_every_line() -> None:
    """EC1: one ``--hash`` turns the mode on for the whole run; every other line needs one."""
    report = lint_files(f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\n")
    assert report.mode.enabled
    assert report.mode.reason == f"--hash at {REQS}:1"
    message = "idna==3.7 has no --hash; add one --hash=sha256:… per file it may be installed from"
    assert problems_of(report, "missing-hash") == [(f"{REQS}:2", message)]


def test_ec1_hash_only_in_constraints_file_turns_mode_on() -> None:
    """EC1: a ``--hash`` in a ``-c`` file alone decides the mode for the whole run."""
    report = lint_files("six==1.17.0\nidna==3.7\n", f"six==1.17.0 --hash=sha256:{SHA_A}\n")
    assert report.mode.enabled
    assert report.mode.reason == f"--hash at {CONS}:1"
    # six is covered by its hashed constraint; idna has nothing.
    assert [s for s, _ in problems_of(report, "missing-hash")] == [f"{REQS}:2"]


def test_ec1_hash_in_constraints_file_reached_through_dash_c_line() -> None:
    """EC1: a constraints file named by a ``-c`` line counts like one given on the CLI."""
    write(Path("sub/pins.txt"), f"six==1.17.0 --hash=sha256:{SHA_A}\n")
    report = lint_files("-c sub/pins.txt\nsix\n")
    assert report.mode.enabled
    assert report.mode.reason == "--hash at sub/pins.txt:1"
    assert report.ok


def test_ec1_no_hash_anywhere_keeps_mode_off() -> None:
    """EC1: without any ``--hash`` or ``--require-hashes`` the mode is off; nothing is required."""
    report = lint_files("six==1.17.0\nidna>=3\n")
    assert not report.mode.enabled
    assert report.ok


def test_ec1_decided_from_the_lines_and_command_line_only() -> None:
    """EC1: ``decide_mode`` looks at what was read and the switches given outside the
    files (command line, pip's configuration), nothing else."""
    write(Path(REQS), "six==1.17.0\n")
    lines = RequirementsReader().read([REQS])
    off, _ = rules.decide_mode(lines)
    on, problems = rules.decide_mode(lines, require_hashes="command line")
    configured, _ = rules.decide_mode(lines, require_hashes="PIP_REQUIRE_HASHES")
    assert (off.enabled, on.enabled, configured.enabled, problems) == (False, True, True, [])
    assert on.reason == "--require-hashes on the command line"
    assert configured.reason == "--require-hashes in PIP_REQUIRE_HASHES"


def test_ec2_require_hashes_line_in_nested_file_turns_mode_on() -> None:
    """EC2: ``--require-hashes`` in a nested ``-r`` file is honoured for the whole run."""
    write(Path("sub/base.txt"), "--require-hashes\nidna==3.7\n")
    report = lint_files("-r sub/base.txt\nsix==1.17.0\n")
    assert report.mode.enabled
    assert report.mode.reason == "--require-hashes at sub/base.txt:1"
    assert [s for s, _ in problems_of(report, "missing-hash")] == ["sub/base.txt:2", f"{REQS}:2"]


def test_ec2_require_hashes_line_in_top_file() -> None:
    """EC2: a ``--require-hashes`` line acts exactly like the command-line flag."""
    report = lint_files("--require-hashes\nsix==1.17.0\n")
    assert report.mode.reason == f"--require-hashes at {REQS}:1"
    assert kinds(report) == ["missing-hash"]


def test_ec3_ec57_every_unhashed_line_reported_at_once() -> None:
    """EC3/EC57: in a partly hashed file every unhashed line is reported, each with file:line."""
    report = lint_files(
        f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\ncertifi==2024.2.2\nurllib3==2.2.1\n"
    )
    assert kinds(report) == ["missing-hash"] * 3
    assert sources(report) == [f"{REQS}:2", f"{REQS}:3", f"{REQS}:4"]
    assert [m.split(" ")[0] for _, m in problems_of(report, "missing-hash")] == [
        "idna==3.7",
        "certifi==2024.2.2",
        "urllib3==2.2.1",
    ]


def test_ec4_require_and_no_require_hashes_on_command_line_exclusive() -> None:
    """EC4: both switches together are pip's mutual-exclusion error, and the mode stays off."""
    report = lint_files("six==1.17.0\n", require_hashes=True, no_require_hashes=True)
    assert kinds(report) == ["options"]
    assert report.problems[0].message.startswith(
        "--require-hashes and --no-require-hashes are mutually exclusive"
    )
    assert report.problems[0].source is None
    assert not report.mode.enabled


def test_ec4_require_and_no_require_hashes_in_files_exclusive() -> None:
    """EC4: the same error when both are file lines; it names where each one is."""
    write(Path("sub/more.txt"), "--no-require-hashes\n")
    report = lint_files("--require-hashes\n-r sub/more.txt\nsix==1.17.0\n")
    assert kinds(report) == ["options"]
    problem = report.problems[0]
    assert problem.source == Source(REQS, 1)
    assert f"--require-hashes at {REQS}:1" in problem.message
    assert "--no-require-hashes at sub/more.txt:1" in problem.message


def test_ec4_cli_require_hashes_with_no_require_hashes_file_line() -> None:
    """EC4: command-line ``--require-hashes`` against a ``--no-require-hashes`` file line."""
    report = lint_files("--no-require-hashes\nsix==1.17.0\n", require_hashes=True)
    assert kinds(report) == ["options"]
    assert report.problems[0].source == Source(REQS, 1)
    assert "--require-hashes on the command line" in report.problems[0].message


def test_ec4_cli_mutual_exclusion_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """EC4/policy 10: the CLI reports the mutual exclusion under its head and exits 2."""
    write(Path(REQS), "six==1.17.0\n")
    rc = main(["lint", REQS, "--require-hashes", "--no-require-hashes"])
    err = capsys.readouterr().err
    assert rc == 2
    assert GROUP_HEADS["options"] in err
    assert "--require-hashes and --no-require-hashes are mutually exclusive" in err


def test_ec4_no_require_hashes_verifies_where_given_and_warns() -> None:
    """EC4: ``--no-require-hashes`` keeps the mode off (unhashed lines pass) with a visible
    notice that checking is reduced; the given hashes are kept for verification."""
    report = lint_files(f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\n", no_require_hashes=True)
    assert not report.mode.enabled
    assert report.mode.reduced_by == "--no-require-hashes on the command line"
    assert report.ok
    assert any("reduced" in w for w in report.warnings)
    assert report.lines.requirements[0].hashes == (Digest("sha256", SHA_A),)


def test_ec4_no_require_hashes_file_line_reduces_too() -> None:
    """EC4: ``--no-require-hashes`` is also valid as a file line, with the same notice."""
    report = lint_files(f"--no-require-hashes\nsix==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\n")
    assert not report.mode.enabled
    assert report.mode.reduced_by == f"--no-require-hashes at {REQS}:1"
    assert report.ok


def test_ec4_no_require_hashes_without_hashes_gives_no_notice() -> None:
    """EC4: nothing was reduced when no line has a hash, so no notice."""
    report = lint_files("six==1.17.0\n", no_require_hashes=True)
    assert report.mode.reduced_by is None
    assert report.warnings == []


def test_ec5_stray_hash_warns_with_pips_text_and_does_not_count() -> None:
    """EC5: a ``--hash`` alone on a line gets pip's warning and does not turn the mode on."""
    report = lint_files(f"six==1.17.0\n--hash=sha256:{SHA_A}\n")
    assert not report.mode.enabled
    assert report.ok
    assert f"{REQS} line 2 has --hash but no requirement, and will be ignored." in report.warnings
    assert report.lines.requirements[0].hashes == ()


def test_ec5_stray_hash_is_an_error_in_hash_mode() -> None:
    """EC5: in hash mode a stray ``--hash`` is an error (a lost backslash) — differs from pip,
    which only warns."""
    report = lint_files(f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\n--hash=sha256:{SHA_B}\n")
    assert [s for s, _ in problems_of(report, "stray-hash")] == [f"{REQS}:3"]
    assert [s for s, _ in problems_of(report, "missing-hash")] == [f"{REQS}:2"]
    assert "backslash" in problems_of(report, "stray-hash")[0][1]


def test_ec5_continuation_backslash_attaches_the_hash() -> None:
    """EC5: with its backslash the same hash belongs to the requirement above."""
    report = lint_files(f"six==1.17.0 \\\n    --hash=sha256:{SHA_A}\n")
    assert report.ok
    assert report.lines.requirements[0].hashes == (Digest("sha256", SHA_A),)


# ---------------------------------------------------------------------------------------
# B. Pinning


def test_ec6_wildcard_equality_is_not_pinned() -> None:
    """EC6: ``six==1.*`` names many versions, so it is reported unpinned — differs from pip,
    which accepts one ``==`` clause as pinned."""
    report = lint_files(f"six==1.* --hash=sha256:{SHA_A}\n")
    assert kinds(report) == ["unpinned"]
    assert report.problems[0].source == Source(REQS, 1)
    assert "wildcard" in report.problems[0].message
    assert report.lines.requirements[0].pinned_version is None


def test_ec6_wildcard_without_hash_under_require_hashes() -> None:
    """EC6: the same without a hash on the line, with ``--require-hashes`` — differs from pip."""
    report = lint_files("six==1.*\n", require_hashes=True)
    assert kinds(report) == ["unpinned"]


def test_ec7_arbitrary_equality_is_pinned() -> None:
    """EC7: ``===`` is accepted as a pin."""
    report = lint_files(f"six===1.17.0 --hash=sha256:{SHA_A}\n")
    assert report.ok
    assert report.lines.requirements[0].pinned_version == "1.17.0"


def test_ec7_arbitrary_equality_compares_strings() -> None:
    """EC7: ``===`` compares strings: ``===1.17.0`` and ``===1.17`` conflict although the
    versions are equal under PEP 440."""
    report = lint_files("six===1.17.0\nsix===1.17\n")
    assert kinds(report) == ["conflict"]
    assert sources(report) == [f"{REQS}:2"]
    assert f"at {REQS}:1" in report.problems[0].message


def test_ec7_arbitrary_pin_satisfying_an_equal_pin_is_no_conflict() -> None:
    """EC7: version string ``1.17.0`` satisfies both ``===1.17.0`` and ``==1.17``."""
    assert lint_files("six===1.17.0\nsix==1.17\n").ok
    assert kinds(lint_files("six===1.0\nsix==2.0\n")) == ["conflict"]


def test_ec8_two_clauses_are_not_pinned() -> None:
    """EC8: ``six>=1,==1.17`` is not a pin (a pin is one ``==``/``===`` clause)."""
    report = lint_files(f"six>=1,==1.17 --hash=sha256:{SHA_A}\n")
    assert kinds(report) == ["unpinned"]
    assert "single == or === clause" in report.problems[0].message
    assert report.lines.requirements[0].pinned_version is None


def test_ec9_local_version_label_is_pinned() -> None:
    """EC9: ``==1.0+cpu`` is a pin to that exact local version."""
    report = lint_files(f"torch==2.1.0+cpu --hash=sha256:{SHA_A}\n")
    assert report.ok
    assert report.lines.requirements[0].pinned_version == "2.1.0+cpu"


def test_ec9_plain_pin_and_local_pin_do_not_conflict() -> None:
    """EC9: ``==2.1.0`` also matches ``2.1.0+cpu`` (PEP 440), so a hashed ``==2.1.0+cpu``
    constraint narrows the requirement instead of conflicting; two labels do conflict."""
    report = lint_files("torch==2.1.0\n", f"torch==2.1.0+cpu --hash=sha256:{SHA_A}\n")
    assert report.ok, report.problems
    report = lint_files("torch==2.1.0+cpu\ntorch==2.1.0+cu121\n")
    assert kinds(report) == ["conflict"]


def test_ec10_hash_on_unpinned_line_is_an_error_in_hash_mode() -> None:
    """EC10: a hash on an unpinned line is an error with file:line; never dropped silently."""
    report = lint_files(f"six==1.17.0 --hash=sha256:{SHA_A}\nidna>=3 --hash=sha256:{SHA_B}\n")
    message = (
        "idna>=3 has --hash but is not pinned with == or === (a hash names one "
        "file of one version); pin it, e.g. idna==VERSION"
    )
    assert problems_of(report, "unpinned") == [(f"{REQS}:2", message)]


def test_ec10_hash_on_unpinned_line_is_an_error_even_with_no_require_hashes() -> None:
    """EC10: always an error, also under ``--no-require-hashes`` — differs from pip, which
    checks pins only in hash-checking mode."""
    report = lint_files(f"six>=1.16 --hash=sha256:{SHA_A}\n", no_require_hashes=True)
    assert not report.mode.enabled
    assert kinds(report) == ["unpinned"]
    assert report.problems[0].source == Source(REQS, 1)


def test_ec10_hash_on_unpinned_constraint_is_an_error() -> None:
    """EC10: the same for a constraint line."""
    report = lint_files("six\n", f"six>=1.16 --hash=sha256:{SHA_A}\n")
    assert f"{CONS}:1" in sources(report)
    assert set(kinds(report)) == {"unpinned"}


def test_ec11_unpinned_requirement_covered_by_hashed_pinned_constraint() -> None:
    """EC11: ``six`` plus ``six==1.17.0 --hash=…`` in a ``-c`` file is accepted."""
    report = lint_files("six\n", f"six==1.17.0 --hash=sha256:{SHA_A}\n")
    assert report.mode.enabled
    assert report.ok


def test_ec11_constraint_pin_outside_the_requirement_range_conflicts() -> None:
    """EC11: the constraint's pin applies; outside the requirement's range it is a conflict
    naming both file:lines."""
    report = lint_files("six>=1.16\n", f"six==1.15.0 --hash=sha256:{SHA_A}\n")
    message = f"six==1.15.0 conflicts with six>=1.16 at {REQS}:1: no version satisfies both"
    assert problems_of(report, "conflict") == [(f"{CONS}:1", message)]


def test_ec11_pinned_constraint_without_hash_does_not_cover() -> None:
    """EC11: a constraint's pin without a hash supplies no hash: still missing."""
    report = lint_files("six\n", "six==1.17.0\n", require_hashes=True)
    assert problems_of(report, "missing-hash")[0][0] == f"{REQS}:1"
    assert "unpinned" not in kinds(report)


def test_ec12_direct_url_with_fragment_satisfies_mode_without_pin() -> None:
    """EC12: a direct URL is exempt from pinning; a user-written ``#sha256=`` satisfies the mode."""
    url = f"https://example.com/pkg-1.0.tar.gz#sha256={SHA_A}"
    report = lint_files(f"pkg @ {url}\n", require_hashes=True)
    assert report.ok
    line = report.lines.requirements[0]
    assert (line.kind, line.pinned_version) == (Kind.ARCHIVE, None)
    assert line.url_hashes == (Digest("sha256", SHA_A),)


def test_ec12_fragment_does_not_switch_mode_on() -> None:
    """EC12 (anchors §2.4): a URL fragment satisfies the mode but does not turn it on."""
    report = lint_files(f"pkg @ https://example.com/pkg-1.0.tar.gz#sha256={SHA_A}\nsix\n")
    assert not report.mode.enabled
    assert report.ok


def test_ec12_bare_archive_url_with_hash_option() -> None:
    """EC12: a bare archive URL with ``--hash`` needs no pin."""
    report = lint_files(
        f"https://example.com/pkg-1.0.tar.gz --hash=sha256:{SHA_A}\n", require_hashes=True
    )
    assert report.ok


def test_ec12_direct_url_without_hash_is_missing_and_names_the_url() -> None:
    """EC12: hash required; the message names the URL (not unpinned)."""
    report = lint_files("pkg @ https://example.com/pkg-1.0.tar.gz\n", require_hashes=True)
    assert kinds(report) == ["missing-hash"]
    assert report.problems[0].message.startswith("https://example.com/pkg-1.0.tar.gz ")


def test_ec12_local_wheel_path(workdir: Path) -> None:
    """EC12: a local wheel path is an archive: exempt from pinning, hash required."""
    (workdir / "dist").mkdir()
    (workdir / "dist" / "pkg-1.0-py3-none-any.whl").write_bytes(b"wheel")
    report = lint_files(f"./dist/pkg-1.0-py3-none-any.whl --hash=sha256:{SHA_A}\n")
    assert report.ok
    line = report.lines.requirements[0]
    assert (line.kind, line.name) == (Kind.ARCHIVE, "pkg")
    assert line.url is not None and line.url.startswith("file:")

    report = lint_files("./dist/pkg-1.0-py3-none-any.whl\n", require_hashes=True)
    assert kinds(report) == ["missing-hash"]
    assert "pkg-1.0-py3-none-any.whl" in report.problems[0].message


def test_ec13_fragment_and_hash_same_algorithm_disagree_is_an_error() -> None:
    """EC13: ``url#sha256=A --hash=sha256:B`` is a parse-time conflict with file:line — differs
    from pip, which ignores the wrong fragment."""
    url = f"https://example.com/pkg-1.0.tar.gz#sha256={SHA_A}"
    report = lint_files(f"pkg @ {url} --hash=sha256:{SHA_B}\n")
    assert kinds(report) == ["conflict"]
    assert report.problems[0].source == Source(REQS, 1)
    assert f"sha256:{SHA_A}" in report.problems[0].message
    assert f"sha256:{SHA_B}" in report.problems[0].message


def test_ec13_fragment_and_hash_agreeing_or_of_other_algorithm_all_kept() -> None:
    """EC13: no conflict when they agree or use different algorithms; every digest is kept,
    since each must match the download."""
    url = f"https://example.com/pkg-1.0.tar.gz#sha256={SHA_A}"
    assert lint_files(f"pkg @ {url} --hash=sha256:{SHA_A}\n").ok
    report = lint_files(f"pkg @ {url} --hash=sha512:{SHA512_A}\n")
    assert report.ok
    entry = report.to_json()["requirements"][0]
    assert entry["hashes"] == [f"sha512:{SHA512_A}", f"sha256:{SHA_A}"]


# ---------------------------------------------------------------------------------------
# C. Requirements that cannot be hashed


def _project(workdir: Path) -> None:
    write(workdir / "proj" / "pyproject.toml", "[project]\nname = 'proj'\nversion = '1'\n")


def test_ec14_ec15_ec16_each_unhashable_kind_listed(workdir: Path) -> None:
    """EC14–EC16: editable, directory and VCS lines are refused in hash mode, each with its
    own kind, all listed at once with file:line."""
    _project(workdir)
    report = lint_files(
        f"""
        six==1.17.0 --hash=sha256:{SHA_A}
        -e ./proj
        ./proj
        git+https://github.com/org/x@v1#egg=x
        -e git+https://github.com/org/y@v1#egg=y
        file://{workdir}/proj
        """
    )
    assert [(p.kind, str(p.source)) for p in report.problems] == [
        ("editable", f"{REQS}:2"),
        ("directory", f"{REQS}:3"),
        ("vcs", f"{REQS}:4"),
        ("editable", f"{REQS}:5"),
        ("directory", f"{REQS}:6"),
    ]


def test_ec14_editable_uses_pips_text() -> None:
    """EC14: pip's editable text plus file:line."""
    report = lint_files("-e git+https://github.com/org/y@v1#egg=y\n", require_hashes=True)
    assert report.problems[0].source == Source(REQS, 1)
    assert report.problems[0].message == (
        "The editable requirement -e git+https://github.com/org/y@v1#egg=y cannot be installed "
        "when requiring hashes, because there is no single file to hash."
    )


def test_ec15_directory_refused_even_with_hash(workdir: Path) -> None:
    """EC15: a hash on a directory line does not help; we suggest building an archive."""
    _project(workdir)
    report = lint_files(f"./proj --hash=sha256:{SHA_A}\n")
    assert kinds(report) == ["directory"]
    assert report.lines.requirements[0].kind is Kind.DIRECTORY
    assert "build an sdist or wheel" in report.problems[0].message


def test_ec16_vcs_pinned_to_commit_refused_even_with_hash() -> None:
    """EC16: a VCS URL is refused even at a full commit and with ``--hash``; we suggest a
    commit archive URL with ``--hash``."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    report = lint_files(f"git+https://github.com/org/x@{commit}#egg=x --hash=sha256:{SHA_A}\n")
    assert kinds(report) == ["vcs"]
    assert report.lines.requirements[0].kind is Kind.VCS
    assert "archive" in report.problems[0].message


def test_ec14_ec15_ec16_accepted_outside_hash_mode(workdir: Path) -> None:
    """EC14–EC16: outside hash mode these lines are fine."""
    _project(workdir)
    report = lint_files("-e ./proj\n./proj\ngit+https://github.com/org/x@v1#egg=x\n")
    assert report.ok


# ---------------------------------------------------------------------------------------
# F. Repeated projects and constraints


def test_ec25_two_lines_with_disjoint_hashes_conflict_naming_both() -> None:
    """EC25: an empty intersection of two lines' hashes is an error naming both file:lines."""
    report = lint_files(f"six==1.17.0 --hash=sha256:{SHA_A}\nsix==1.17.0 --hash=sha256:{SHA_B}\n")
    message = (
        f"no file is allowed by both {REQS}:1 and {REQS}:2: their --hash sets "
        "have nothing in common"
    )
    assert problems_of(report, "conflict") == [(f"{REQS}:2", message)]


def test_ec25_overlapping_hashes_intersect() -> None:
    """EC25: overlapping lines are fine; the one intersected set is used for choosing and
    verifying."""
    report = lint_files(
        f"six==1.17.0 --hash=sha256:{SHA_A} --hash=sha256:{SHA_B}\n"
        f"six==1.17.0 --hash=sha256:{SHA_B} --hash=sha256:{SHA_C}\n"
    )
    assert report.ok
    allowed = AllowedHashes()
    for line in report.lines.requirements:
        allowed = allowed.narrowed(line.hashes)
    assert allowed.digests() == [Digest("sha256", SHA_B)]
    assert allowed.allows({"sha256": SHA_B})
    assert not allowed.allows({"sha256": SHA_A})


def test_ec25_three_lines_agreeing_pairwise_but_not_jointly() -> None:
    """EC25: ``{A,B}``, ``{B,C}``, ``{A,C}`` share no file although every two lines do."""
    report = lint_files(
        f"six==1.17.0 --hash=sha256:{SHA_A} --hash=sha256:{SHA_B}\n"
        f"six==1.17.0 --hash=sha256:{SHA_B} --hash=sha256:{SHA_C}\n"
        f"six==1.17.0 --hash=sha256:{SHA_A} --hash=sha256:{SHA_C}\n"
    )
    message = (
        f"no file is allowed by all of {REQS}:1, {REQS}:2 and {REQS}:3: their "
        "--hash sets have nothing in common"
    )
    assert problems_of(report, "conflict") == [(f"{REQS}:3", message)]


def test_ec25_joint_conflict_names_only_the_lines_involved() -> None:
    """EC25: a line of another algorithm in between is not named."""
    report = lint_files(
        f"six==1 --hash=sha256:{SHA_A} --hash=sha256:{SHA_B}\n"
        f"six==1 --hash=sha512:{SHA512_A}\n"
        f"six==1 --hash=sha256:{SHA_B} --hash=sha256:{SHA_C}\n"
        f"six==1 --hash=sha256:{SHA_A} --hash=sha256:{SHA_C}\n"
    )
    assert [m for _, m in problems_of(report, "conflict")] == [
        f"no file is allowed by all of {REQS}:1, {REQS}:3 and {REQS}:4: their --hash sets "
        "have nothing in common"
    ]


def test_ec26_two_pins_conflict_naming_both_lines() -> None:
    """EC26: ``six==1.16.0`` and ``six==1.17.0`` is an error naming both lines."""
    report = lint_files("six==1.16.0\nsix==1.17.0\n")
    message = f"six==1.17.0 conflicts with six==1.16.0 at {REQS}:1: no version satisfies both"
    assert problems_of(report, "conflict") == [(f"{REQS}:2", message)]


def test_ec26_lint_does_not_compare_lines_with_different_markers() -> None:
    """EC26: lint cannot evaluate markers, so lines under different markers are not compared;
    the same marker, or none on one line, is compared."""
    assert lint_files(
        "six==1.16.0 ; python_version < '3.9'\nsix==1.17.0 ; python_version >= '3.9'\n"
    ).ok
    same = lint_files(
        "six==1.16.0 ; sys_platform == 'win32'\nsix==1.17.0 ; sys_platform == 'win32'\n"
    )
    assert kinds(same) == ["conflict"]
    assert kinds(lint_files("six==1.16.0 ; sys_platform == 'win32'\nsix==1.17.0\n")) == ["conflict"]


def test_ec26_decided_after_marker_evaluation_for_a_target() -> None:
    """EC26: with a target, only the lines that apply are compared, whatever their markers."""
    write(
        Path(REQS), "six==1.16.0 ; python_version < '3.9'\nsix==1.17.0 ; python_version >= '3.9'\n"
    )
    lines = RequirementsReader().read([REQS])
    mode, _ = rules.decide_mode(lines)
    both = rules.check(lines, mode, applies=lambda r: True)
    assert [(p.kind, str(p.source)) for p in both] == [("conflict", f"{REQS}:2")]
    assert rules.check(lines, mode, applies=lambda r: r.source.line == 2) == []


def test_ec27_constraint_hashes_disjoint_from_requirement_conflict() -> None:
    """EC27: an empty intersection between a requirement and a constraint names both files."""
    report = lint_files(
        f"six==1.17.0 --hash=sha256:{SHA_B}\n", f"six==1.17.0 --hash=sha256:{SHA_A}\n"
    )
    message = (
        f"no file is allowed by both {REQS}:1 and {CONS}:1: their --hash sets "
        "have nothing in common"
    )
    assert problems_of(report, "conflict") == [(f"{CONS}:1", message)]


def test_ec27_constraint_hashes_intersect_and_cover_unhashed_requirement() -> None:
    """EC27: overlapping sets intersect; an unhashed requirement inherits the constraint's."""
    report = lint_files(
        f"six==1.17.0 --hash=sha256:{SHA_A} --hash=sha256:{SHA_B}\nidna==3.7\n",
        f"six==1.17.0 --hash=sha256:{SHA_B}\nidna==3.7 --hash=sha256:{SHA_C}\n",
    )
    assert report.ok
    assert [str(c.source) for c in report.lines.constraints] == [f"{CONS}:1", f"{CONS}:2"]


# ---------------------------------------------------------------------------------------
# G. Algorithms and digest syntax


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("md5", MD5_A),
        ("sha1", hashlib.sha1(b"a").hexdigest()),
        ("sha224", hashlib.sha224(b"a").hexdigest()),
        ("blake2b", hashlib.blake2b(b"a", digest_size=32).hexdigest()),
        ("sha3_256", hashlib.sha3_256(b"a").hexdigest()),
    ],
)
def test_ec29_ec34_ec35_only_sha256_sha384_sha512_accepted(algorithm: str, digest: str) -> None:
    """EC29/EC34/EC35: ``--hash`` accepts the three SHA-2 algorithms only; pip's message with
    file:line."""
    report = lint_files(f"six==1.17.0\nidna==3.7 --hash={algorithm}:{digest}\n")
    assert kinds(report) == ["syntax"]
    assert report.problems[0].source == Source(REQS, 2)
    assert ALLOWED_ALGORITHMS in report.problems[0].message
    with pytest.raises(InvalidDigest, match=ALLOWED_ALGORITHMS.replace(".", r"\.")):
        parse_hash_option(f"{algorithm}:{digest}")


@pytest.mark.parametrize(
    ("algorithm", "digest"), [("sha256", SHA_A), ("sha384", SHA384_A), ("sha512", SHA512_A)]
)
def test_ec29_strong_algorithms_accepted(algorithm: str, digest: str) -> None:
    """EC29: sha256, sha384 and sha512 are accepted and turn the mode on."""
    report = lint_files(f"six==1.17.0 --hash={algorithm}:{digest}\n")
    assert report.ok
    assert report.lines.requirements[0].hashes == (Digest(algorithm, digest),)


def test_ec30_upper_case_algorithm_refused() -> None:
    """EC30: ``SHA256:`` is refused with pip's message (pip parity) — differs from pip only in
    adding a hint to write it in lower case."""
    report = lint_files(f"six==1.17.0 --hash=SHA256:{SHA_A}\n")
    assert kinds(report) == ["syntax"]
    assert report.problems[0].source == Source(REQS, 1)
    assert ALLOWED_ALGORITHMS in report.problems[0].message
    assert "lower case" in report.problems[0].message


def test_ec31_upper_case_digest_accepted_stored_lower_case() -> None:
    """EC31: an upper-case digest is accepted, stored and printed lower-case, and compared
    case-insensitively."""
    report = lint_files(f"six==1.17.0 --hash=sha256:{SHA_A.upper()}\n")
    assert report.ok
    assert report.lines.requirements[0].hashes == (Digest("sha256", SHA_A),)
    assert report.to_json()["requirements"][0]["hashes"] == [f"sha256:{SHA_A}"]
    allowed = AllowedHashes().narrowed(report.lines.requirements[0].hashes)
    assert allowed.allows({"sha256": SHA_A.upper()})


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("sha256:abcd", "expected 64 hexadecimal characters, found 4"),
        (f"sha256:{SHA_A}00", "expected 64 hexadecimal characters, found 66"),
        (f"sha384:{SHA_A}", "expected 96 hexadecimal characters, found 64"),
        (f"sha512:{SHA_A}", "expected 128 hexadecimal characters, found 64"),
        ("sha256:" + "z" * 64, "expected only hexadecimal characters"),
        ("sha256:", "expected only hexadecimal characters"),
    ],
)
def test_ec32_digest_length_and_hex_validated_at_parse_time(value: str, why: str) -> None:
    """EC32: wrong length or non-hex is refused when the file is read, with file:line, before
    anything else — differs from pip, which only fails to match later."""
    report = lint_files(f"--require-hashes\nidna==3.7\nsix==1.17.0 --hash={value}\n")
    first = report.problems[0]
    assert (first.kind, first.source) == ("syntax", Source(REQS, 3))
    assert why in first.message
    assert kinds(report)[1:] == ["missing-hash"]  # the rest is still reported (EC57)
    with pytest.raises(InvalidDigest, match=why):
        parse_hash_option(value)


def test_ec33_no_colon_uses_pips_text() -> None:
    """EC33: a value without a colon gets pip's text plus file:line."""
    report = lint_files(f"six==1.17.0 --hash={SHA_A}\n")
    assert kinds(report) == ["syntax"]
    assert report.problems[0].source == Source(REQS, 1)
    assert report.problems[0].message.endswith(NO_COLON)


def test_ec33_space_form_accepted() -> None:
    """EC33: ``--hash sha256:…`` (space instead of ``=``) is accepted, as pip and uv do."""
    report = lint_files(f"six==1.17.0 --hash sha256:{SHA_A}\n")
    assert report.ok
    assert report.mode.enabled
    assert report.lines.requirements[0].hashes == (Digest("sha256", SHA_A),)


def test_ec33_doubled_option_is_a_syntax_problem() -> None:
    """EC33: ``--hash--hash=…`` is refused as a syntax problem with file:line."""
    report = lint_files(f"six==1.17.0 --hash--hash=sha256:{SHA_A}\nidna==3.7\n")
    assert kinds(report) == ["syntax"]
    assert report.problems[0].source == Source(REQS, 1)
    assert "--hash--hash" in report.problems[0].message


def test_ec34_md5_fragment_checked_but_does_not_satisfy_mode() -> None:
    """EC34: a ``#md5=`` fragment is kept for checking but does not satisfy hash mode on its
    own, and the message says so — differs from pip, which accepts it (legacy)."""
    url = f"https://example.com/pkg-1.0.tar.gz#md5={MD5_A}"
    report = lint_files(f"pkg @ {url}\n", require_hashes=True)
    assert report.lines.requirements[0].url_hashes == (Digest("md5", MD5_A),)
    assert kinds(report) == ["missing-hash"]
    assert report.problems[0].source == Source(REQS, 1)
    assert "too weak" in report.problems[0].message
    assert lint_files(f"pkg @ {url} --hash=sha256:{SHA_A}\n").ok


def test_ec34_fragments_validated_and_weak_ones_not_strong() -> None:
    """EC34: fragment digests are validated like ``--hash``; md5/sha1 are never strong."""
    assert [d.is_strong for d in url_fragment_digests(f"https://x/p.tgz#md5={MD5_A}")] == [False]
    report = lint_files("pkg @ https://example.com/pkg-1.0.tar.gz#md5=abc\n")
    assert kinds(report) == ["syntax"]
    assert report.problems[0].source == Source(REQS, 1)


def test_ec35_blake2b_refused_with_pips_text() -> None:
    """EC35: blake2b is refused like pip does."""
    with pytest.raises(InvalidDigest) as excinfo:
        parse_hash_option(f"blake2b:{SHA_A}")
    assert str(excinfo.value) == ALLOWED_ALGORITHMS


def test_ec36_sha512_and_sha256_lines_for_one_project_do_not_contradict() -> None:
    """EC36: sha512 on one line and sha256 on another are not a contradiction: only the
    downloaded bytes can tell whether they name one file, so both are checked — differs from
    pip, whose intersection of repeated lines keeps only algorithms both lines name and so
    leaves nothing allowed."""
    report = lint_files(
        f"six==1.17.0 --hash=sha512:{SHA512_A}\n", f"six==1.17.0 --hash=sha256:{SHA_B}\n"
    )
    assert report.ok
    allowed = AllowedHashes()
    for line in report.lines.all_lines():
        allowed = allowed.narrowed(line.hashes)
    assert not allowed.contradictory
    assert allowed.algorithms == {"sha256", "sha512"}
    assert allowed.allows({"sha256": SHA_B, "sha512": SHA512_A})
    assert not allowed.allows({"sha256": SHA_B})  # every clause must be checked


# ---------------------------------------------------------------------------------------
# The command line


def test_cli_lint_groups_problems_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """EC57/policy 10: problems printed under pip's group heads with file:line; exit 2."""
    write(Path(REQS), f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\ncertifi>=2024\n")
    assert main(["lint", REQS]) == 2
    err = capsys.readouterr().err
    assert GROUP_HEADS["missing-hash"] in err
    assert GROUP_HEADS["unpinned"] in err
    assert f"    {REQS}:2: idna==3.7" in err
    assert f"    {REQS}:3: certifi>=2024" in err
    assert err.index(GROUP_HEADS["missing-hash"]) < err.index(GROUP_HEADS["unpinned"])


def test_cli_lint_ok_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Policy 10: a valid hashed file exits 0 and prints no problems."""
    write(Path(REQS), f"six==1.17.0 --hash=sha256:{SHA_A}\n")
    assert main(["lint", REQS]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "hash-checking mode on" in out


def test_cli_lint_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    """``--format json`` prints one object with the documented keys."""
    write(Path(REQS), f"six==1.17.0 --hash=sha256:{SHA_A.upper()}\nidna==3.7\n")
    write(Path(CONS), f"idna==3.7 --hash=sha256:{SHA_B}\n")
    assert main(["lint", REQS, "-c", CONS, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"hash_mode", "requirements", "constraints", "options", "problems"} <= data.keys()
    assert data["hash_mode"] is True
    six = data["requirements"][0]
    assert {"name", "specifier", "extras", "marker", "url", "editable", "hashes", "source"} <= (
        six.keys()
    )
    assert (six["name"], six["specifier"], six["source"]) == ("six", "==1.17.0", f"{REQS}:1")
    assert six["hashes"] == [f"sha256:{SHA_A}"]
    assert data["constraints"][0]["source"] == f"{CONS}:1"
    assert data["problems"] == []


def test_cli_lint_json_problems(capsys: pytest.CaptureFixture[str]) -> None:
    """``--format json`` lists problems as ``{source, kind, message}`` and exits 2."""
    write(Path(REQS), f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.7\n")
    assert main(["lint", REQS, "--format", "json"]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["source"], p["kind"]) for p in problems] == [(f"{REQS}:2", "missing-hash")]
