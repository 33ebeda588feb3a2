"""The requirements-file reader: pip's preprocessing, options, includes and encodings
(EC60, EC66–EC72), each compared with pip's parser where pip accepts the input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import SHA_A, SHA_B, write
from pip_oracle import assert_same, pip_options

from pip_hashsync.commands.lint import lint
from pip_hashsync.requirements.reader import Kind, RequirementsReader


def read(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(requirement texts, problem strings, warnings) of one file."""
    result = RequirementsReader().read([str(path)])
    return [r.text for r in result.requirements], [str(p) for p in result.problems], result.warnings


# EC66 --------------------------------------------------------------------------------


def test_ec66_continuations_comments_and_line_numbers_match_pip(workdir: Path) -> None:
    path = write(
        workdir / "r.txt",
        f"""
        # leading comment
        six==1.17.0 \\
            --hash=sha256:{SHA_A} \\
            --hash=sha256:{SHA_B}  # trailing comment
        attrs\\
        ==24.2.0
        # a comment line is never continued \\
        idna==3.10
        certifi==2024.8.30 \\
        # a comment line ends the continuation
        urllib3==2.2.3 \\
        """,
    )
    assert_same(str(path))
    lines = lint([str(path)]).lines.requirements
    assert [(r.name, r.source.line) for r in lines] == [
        ("six", 2),
        ("attrs", 5),
        ("idna", 8),
        ("certifi", 9),
        ("urllib3", 11),
    ]
    assert len(lines[0].hashes) == 2


def test_ec66_hash_sign_without_space_is_not_a_comment(workdir: Path) -> None:
    """``foo==1.0#x`` keeps its ``#x`` (then fails as pip fails); a URL keeps its fragment."""
    path = write(workdir / "r.txt", "foo==1.0#x\nbar @ https://h.example/bar-1.0.tar.gz#egg=bar\n")
    report = lint([str(path)])
    assert [str(p.source) for p in report.problems] == [f"{path}:1"]
    assert "Invalid requirement: 'foo==1.0#x'" in report.problems[0].message
    assert report.lines.requirements[0].url == "https://h.example/bar-1.0.tar.gz#egg=bar"


# EC67 --------------------------------------------------------------------------------


def test_ec67_only_braced_upper_case_variables_are_expanded(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "s3cret")
    monkeypatch.setenv("token", "lower")
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    path = write(
        workdir / "r.txt",
        """
        a @ https://${TOKEN}@h.example/a-1.0.tar.gz
        b @ https://$TOKEN@h.example/b-1.0.tar.gz
        c @ https://%TOKEN%@h.example/c-1.0.tar.gz
        d @ https://${token}@h.example/d-1.0.tar.gz
        e @ https://${UNSET_VAR}@h.example/e-1.0.tar.gz
        f @ https://${EMPTY}@h.example/f-1.0.tar.gz
        """,
    )
    assert_same(str(path))
    urls = [r.url for r in lint([str(path)]).lines.requirements]
    assert urls[0] == "https://s3cret@h.example/a-1.0.tar.gz"
    assert [u.split("@")[0] for u in urls[1:]] == [
        "https://$TOKEN",
        "https://%TOKEN%",
        "https://${token}",
        "https://${UNSET_VAR}",
        "https://${EMPTY}",
    ]


# EC68 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00\x01\x02six==1\x00\xff", "binary file"),
        (b"six==1.0\n\xff\xfe\xfa garbage\n", "cannot be decoded"),
        (b"# -*- coding: no-such-codec -*-\nsix==1\n", "unknown encoding 'no-such-codec'"),
        (b"# coding: ascii\nsix==1.0 # caf\xc3\xa9\n", "cannot be decoded with its coding comment"),
    ],
)
def test_ec68_undecodable_files_are_a_clear_problem(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, expected: str
) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "utf-8")
    path = workdir / "r.txt"
    path.write_bytes(data)
    _, problems, _ = read(path)
    assert len(problems) == 1
    assert str(path) in problems[0] and expected in problems[0]


def test_ec68_locale_fallback_warns(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "latin-1")
    path = workdir / "r.txt"
    path.write_bytes(b"six==1.0 # caf\xe9\n")
    texts, problems, warnings = read(path)
    assert (texts, problems) == (["six==1.0"], [])
    assert any("locale's encoding latin-1" in w for w in warnings)


# EC69 --------------------------------------------------------------------------------


def test_ec69_includes_are_relative_to_the_including_file(workdir: Path) -> None:
    write(workdir / "reqs" / "top.txt", "-r sub/mid.txt\n-c cons.txt\n")
    write(workdir / "reqs" / "sub" / "mid.txt", "-r ../leaf.txt\nmid==1\n")
    write(workdir / "reqs" / "leaf.txt", "leaf==1\n")
    write(workdir / "reqs" / "cons.txt", "leaf==1\n")
    report = lint(["reqs/top.txt"])
    assert [str(r.source) for r in report.lines.requirements] == [
        os.path.join("reqs", "leaf.txt") + ":1",
        os.path.join("reqs", "sub", "mid.txt") + ":2",
    ]
    assert [str(c.source) for c in report.lines.constraints] == ["reqs/cons.txt:1"]
    assert_same("reqs/top.txt")


def test_ec69_recursion_is_detected_and_reported_at_the_including_line(workdir: Path) -> None:
    write(workdir / "a.txt", "one==1\n-r b.txt\n")
    write(workdir / "b.txt", "two==1\n-r a.txt\n")
    report = lint(["a.txt"])
    assert [r.name for r in report.lines.requirements] == ["one", "two"]
    assert [str(p) for p in report.problems] == [
        "b.txt:2: a.txt recursively references itself in b.txt"
    ]
    assert [p.kind for p in report.problems] == ["file"]


def test_ec69_a_file_included_twice_side_by_side_is_not_recursion(workdir: Path) -> None:
    write(workdir / "top.txt", "-r a.txt\n-r b.txt\n")
    write(workdir / "a.txt", "-r common.txt\n")
    write(workdir / "b.txt", "-r common.txt\n")
    write(workdir / "common.txt", "six==1.17.0\n")
    report = lint(["top.txt"])
    assert report.problems == []
    assert len(report.lines.requirements) == 2


def test_ec69_missing_nested_file_names_the_including_line(workdir: Path) -> None:
    write(workdir / "top.txt", "six==1\n-r missing.txt\nidna==3\n")
    report = lint(["top.txt"])
    assert [str(p.source) for p in report.problems] == ["top.txt:2"]
    assert "Could not read requirements file missing.txt" in report.problems[0].message
    assert [r.name for r in report.lines.requirements] == ["six", "idna"]


def test_ec69_file_urls_are_read_and_http_urls_need_the_network(workdir: Path) -> None:
    leaf = write(workdir / "leaf.txt", "leaf==1\n")
    write(workdir / "top.txt", f"-r {leaf.as_uri()}\n-r https://h.example/r.txt\n")
    report = lint(["top.txt"])
    assert [r.name for r in report.lines.requirements] == ["leaf"]
    assert [str(p.source) for p in report.problems] == ["top.txt:2"]
    assert "needs the network" in report.problems[0].message


def test_ec69_requirements_included_from_a_constraints_file_are_requirements(
    workdir: Path,
) -> None:
    """pip reads a ``-r`` inside a ``-c`` file as requirements; we follow and warn."""
    write(workdir / "top.txt", "-c cons.txt\n")
    write(workdir / "cons.txt", "a==1\n-r more.txt\n")
    write(workdir / "more.txt", "b==1\n")
    report = lint(["top.txt"])
    assert [r.name for r in report.lines.requirements] == ["b"]
    assert [c.name for c in report.lines.constraints] == ["a"]
    assert any("reads requirements, not constraints" in w for w in report.warnings)
    assert_same("top.txt")


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_unreadable_top_level_files_are_problems(workdir: Path, what: str) -> None:
    if what == "directory":
        (workdir / "thing").mkdir()
    report = lint(["thing"])
    assert report.problems[0].kind == "file"
    assert "thing" in report.problems[0].message
    expected = "it is a directory" if what == "directory" else "No such file"
    assert expected in report.problems[0].message


# EC70 --------------------------------------------------------------------------------


def test_ec70_global_options_on_a_requirement_line_have_no_effect_and_warn(
    workdir: Path,
) -> None:
    path = write(
        workdir / "r.txt",
        f"""
        six==1.17.0 --index-url https://elsewhere.example/simple --hash=sha256:{SHA_A}
        -e ./proj --hash=sha256:{SHA_A} --config-settings k=v
        cfg==1 -C a=1 -C a=2
        """,
    )
    write(workdir / "proj" / "pyproject.toml", "[project]\nname='proj'\nversion='1'\n")
    report = lint([str(path)])
    assert report.lines.options.index_url is None
    assert pip_options(str(path))["index_urls"] == []
    six, proj, cfg = report.lines.requirements
    assert [str(d) for d in six.hashes] == [f"sha256:{SHA_A}"]
    assert proj.editable and proj.hashes == () and proj.config_settings == (("k", "v"),)
    assert cfg.config_settings == (("a", "1"), ("a", "2"))
    assert any("--index-url has no effect on a requirement line" in w for w in report.warnings)
    assert any("--hash on an editable line has no effect" in w for w in report.warnings)
    assert_same(str(path))


def test_ec70_unknown_and_malformed_options_are_syntax_problems(workdir: Path) -> None:
    path = write(
        workdir / "r.txt",
        """
        six==1 --no-such-option
        --index-url
        -C novalue x==1
        idna==3 --hash="unterminated
        """,
    )
    report = lint([str(path)])
    assert [(p.kind, p.source.line if p.source else 0) for p in report.problems] == [
        ("syntax", 1),
        ("syntax", 2),
        ("syntax", 3),
        ("syntax", 4),
    ]
    messages = [p.message for p in report.problems]
    assert "no such option: --no-such-option" in messages[0]
    assert "requires 1 argument" in messages[1]
    assert "must be of the form KEY=VAL" in messages[2]
    assert "Could not split options" in messages[3]


# EC71 --------------------------------------------------------------------------------


def test_ec71_find_links_relative_to_the_file_when_it_exists_there(workdir: Path) -> None:
    (workdir / "reqs" / "wheels").mkdir(parents=True)
    path = write(workdir / "reqs" / "r.txt", "-f wheels\n-f ./not-there\n-f https://h.example/\n")
    options = lint([str(path)]).lines.options
    assert options.find_links == [
        str(workdir / "reqs" / "wheels"),
        "./not-there",
        "https://h.example/",
    ]
    assert options.find_links == pip_options(str(path))["find_links"]


# EC72 --------------------------------------------------------------------------------


def test_ec72_markers_with_spaces_stay_intact_and_options_follow(workdir: Path) -> None:
    path = write(
        workdir / "r.txt",
        f"""
        bar==1 ; python_version < "3.12" and sys_platform != "win32" --hash sha256:{SHA_A}
        baz[x, y] >= 1.0 , < 2 ; extra == "z"
        """,
    )
    bar, baz = lint([str(path)]).lines.requirements
    assert str(bar.marker) == 'python_version < "3.12" and sys_platform != "win32"'
    assert [str(d) for d in bar.hashes] == [f"sha256:{SHA_A}"]
    assert baz.extras == {"x", "y"} and str(baz.specifier) == "<2,>=1.0"
    assert_same(str(path))


def test_ec72_marker_after_the_options_is_an_error(workdir: Path) -> None:
    """pip silently drops a marker written after ``--hash``; we refuse the line."""
    path = write(workdir / "r.txt", f'bar==1 --hash=sha256:{SHA_A} ; python_version < "3"\n')
    report = lint([str(path)])
    assert [(p.kind, str(p.source)) for p in report.problems] == [("syntax", f"{path}:1")]
    assert "marker comes after the options" in report.problems[0].message


def test_line_kinds(workdir: Path) -> None:
    write(workdir / "proj" / "setup.py", "")
    (workdir / "dist").mkdir()
    (workdir / "dist" / "w-1.0-py3-none-any.whl").write_bytes(b"")
    path = write(
        workdir / "r.txt",
        """
        plain==1
        n @ https://h.example/n-1.0.tar.gz
        ./dist/w-1.0-py3-none-any.whl
        ./proj
        git+https://h.example/r.git#egg=r
        """,
    )
    kinds = [r.kind for r in lint([str(path)]).lines.requirements]
    assert kinds == [Kind.INDEX, Kind.ARCHIVE, Kind.ARCHIVE, Kind.DIRECTORY, Kind.VCS]


def test_a_directory_without_a_project_is_not_installable(workdir: Path) -> None:
    (workdir / "empty").mkdir()
    report = lint([str(write(workdir / "r.txt", "./empty\n"))])
    assert "Neither 'setup.py' nor 'pyproject.toml' found" in report.problems[0].message


# EC60 --------------------------------------------------------------------------------


def test_ec60_global_options_are_read_with_pips_precedence(workdir: Path) -> None:
    path = write(
        workdir / "r.txt",
        """
        -i https://first.example/simple
        --index-url https://second.example/simple
        --extra-index-url https://extra.example/simple
        --pre
        --prefer-binary
        --only-binary=:all:
        --no-binary Foo_Bar
        --only-binary :none:
        --trusted-host extra.example
        --use-feature=fast-deps
        --all-releases=x --only-final y
        --no-index
        """,
    )
    data = lint([str(path)]).to_json()["options"]
    assert data["index_url"] == "https://second.example/simple"
    assert data["extra_index_urls"] == ["https://extra.example/simple"]
    assert data["no_index"] is True
    assert data["pre"] and data["prefer_binary"]
    assert (data["only_binary"], data["no_binary"]) == ([], ["foo-bar"])
    assert (data["all_releases"], data["only_final"]) == (["x"], ["y"])
    assert data["trusted_hosts"] == ["extra.example"]
    assert data["use_feature"] == ["fast-deps"]
    pips = pip_options(str(path))
    assert pips["index_urls"] == [] and pips["no_binary"] == ["foo-bar"]
    assert pips["only_binary"] == []
