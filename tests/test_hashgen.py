"""``hashes``, end to end: requirements file -> real loopback index -> rewritten file.

Every test runs the command line in-process against the ``indexserver`` index (``-i`` is
always given), then reads the file, the output and the server's request log. Test names
carry the edge case (EC73–EC81) they pin down.
"""

from __future__ import annotations

import hashlib
import textwrap
import threading
import zipfile
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import pytest
from distbuilder import build_sdist, build_wheel
from helpers import SHA_A, write
from indexserver import IndexServer

from pip_hashsync.cli import main
from pip_hashsync.requirements.reader import RequirementsReader

#: ``run(*args)`` -> (exit code, stdout, stderr) of ``hashes *args -i <index>``.
Run = Callable[..., tuple[int, str, str]]

#: Every file of demo 1.0, its neighbours, and what the platform filters make of them.
DEMO_10_WHEEL_TAGS = (
    "cp311-cp311-manylinux_2_17_x86_64",
    "cp311-cp311-win_amd64",
    "cp312-cp312-manylinux_2_17_x86_64",
    "cp312-cp312-macosx_11_0_arm64",
    "cp312-cp312-win_amd64",
    "cp38-abi3-manylinux_2_17_x86_64",
    "py3-none-any",
)


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def run(index_server: IndexServer, capsys: pytest.CaptureFixture[str], workdir: Path) -> Run:
    """Run ``hashes`` in ``workdir`` against ``index_server``."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["hashes", *args, "-i", index_server.index_url])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def digest(path: Path, algorithm: str = "sha256") -> str:
    """``algorithm:hex`` of a file, as written after ``--hash=``."""
    return f"{algorithm}:{hashlib.new(algorithm, path.read_bytes()).hexdigest()}"


def zip_sdist(out_dir: Path, name: str, version: str) -> Path:
    """A ``.zip`` sdist (old setuptools' format on Windows); only its bytes matter here."""
    path = out_dir / f"{name}-{version}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}/PKG-INFO", f"Name: {name}\nVersion: {version}\n")
    return path


def build_project(out_dir: Path, name: str, version: str) -> list[str]:
    """A universal wheel and an sdist; their sorted ``--hash`` values."""
    paths = [build_wheel(out_dir, name, version), build_sdist(out_dir, name, version)]
    return sorted(digest(p) for p in paths)


def block(requirement: str, hashes: list[str], end: str = "") -> str:
    """pip-compile's layout: the requirement, then one indented ``--hash`` per line."""
    return " \\\n".join([requirement, *(f"    --hash={h}" for h in hashes)]) + end + "\n"


def hashes_in(path: str | Path) -> dict[str, set[str]]:
    """Project -> the ``--hash`` values of its line, as pip reads the file."""
    lines = RequirementsReader().read([str(path)]).requirements
    return {str(line.key): {str(d) for d in line.hashes} for line in lines}


def file_gets(server: IndexServer) -> list[str]:
    return [path for _, path in server.requests if path.startswith("/files/")]


def page_gets(server: IndexServer) -> list[str]:
    return [path for _, path in server.requests if path.startswith("/simple/")]


@pytest.fixture
def demo(dist_dir: Path) -> dict[str, Path]:
    """demo 1.0 for several platforms with a .tar.gz and a .zip sdist, demo 0.9, and the
    locally labelled demo 1.0+cpu; filename -> path."""
    paths = [build_wheel(dist_dir, "demo", "1.0", tag=tag) for tag in DEMO_10_WHEEL_TAGS]
    paths += [build_sdist(dist_dir, "demo", "1.0"), zip_sdist(dist_dir, "demo", "1.0")]
    paths += [build_wheel(dist_dir, "demo", "0.9"), build_sdist(dist_dir, "demo", "0.9")]
    paths += [
        build_wheel(dist_dir, "demo", "1.0+cpu", tag="cp311-cp311-manylinux_2_17_x86_64"),
        build_wheel(dist_dir, "demo", "1.0+cpu"),
    ]
    return {path.name: path for path in paths}


def demo_hashes(demo: dict[str, Path], version: str = "1.0", algorithm: str = "sha256") -> set[str]:
    """The digests of every file of exactly ``version``."""
    prefixes = (f"demo-{version}-", f"demo-{version}.tar.gz", f"demo-{version}.zip")
    return {digest(p, algorithm) for name, p in demo.items() if name.startswith(prefixes)}


# -- page formats ----------------------------------------------------------------------------


@pytest.mark.parametrize("page_format", ["auto", "json", "html"])
def test_json_and_html_pages_give_the_same_hashes(
    page_format: str, run: Run, index_server: IndexServer, demo: dict[str, Path]
) -> None:
    """PEP 691 JSON, PEP 503 HTML fragments, and a server that ignores Accept (always HTML)
    give the same file, byte for byte."""
    index_server.page_format = page_format
    write(Path("requirements.txt"), "demo==1.0\n")
    code, _, err = run("requirements.txt")
    assert (code, err) == (0, "")
    assert Path("requirements.txt").read_text() == block("demo==1.0", sorted(demo_hashes(demo)))
    assert file_gets(index_server) == []


# -- EC73: which files ---------------------------------------------------------------------


def test_ec73_every_file_of_exactly_the_pinned_version(
    run: Run, index_server: IndexServer, demo: dict[str, Path]
) -> None:
    """All platforms' wheels and both sdists (.tar.gz, .zip) of 1.0; not 0.9, not 1.0+cpu."""
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt")[0] == 0
    written = hashes_in("requirements.txt")["demo"]
    assert written == demo_hashes(demo)
    assert len(written) == len(DEMO_10_WHEEL_TAGS) + 2
    assert digest(demo["demo-1.0.zip"]) in written
    assert digest(demo["demo-1.0.tar.gz"]) in written
    assert not written & demo_hashes(demo, "0.9")
    assert not written & demo_hashes(demo, "1.0+cpu")


def test_ec73_a_local_label_pin_takes_only_the_labelled_files(
    run: Run, demo: dict[str, Path]
) -> None:
    """``==1.0+cpu`` names the label: its two wheels, nothing of plain 1.0."""
    write(Path("requirements.txt"), "demo==1.0+cpu\n")
    assert run("requirements.txt")[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo, "1.0+cpu")
    assert len(demo_hashes(demo, "1.0+cpu")) == 2


def test_ec73_every_sdist_format_pip_accepts(
    run: Run, demo: dict[str, Path], tmp_path: Path
) -> None:
    """.tar.bz2, .tar.xz and .tgz sdists count too. The test index serves only .whl,
    .tar.gz and .zip, so these come from a find-links folder next to it."""
    links = tmp_path / "links"
    links.mkdir()
    others = []
    for extension in (".tar.bz2", ".tar.xz", ".tgz"):
        path = links / f"demo-1.0{extension}"
        path.write_bytes(f"sdist as {extension}".encode())
        others.append(path)
    (links / "demo-0.9.tar.bz2").write_bytes(b"other version")
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt", "-f", str(links))[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo) | {digest(p) for p in others}


# -- EC74: where digests come from ---------------------------------------------------------


def test_ec74_a_file_without_advertised_digest_is_downloaded_and_hashed(
    run: Run, index_server: IndexServer, demo: dict[str, Path]
) -> None:
    """No digest on the page: each file of the pinned version (only those) is fetched and
    hashed, and the digest written is the file's."""
    index_server.advertise = "none"
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt")[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo)
    wanted = [f"/files/{name}" for name in demo if name.startswith(("demo-1.0-", "demo-1.0."))]
    assert sorted(file_gets(index_server)) == sorted(wanted)
    assert len(wanted) == len(DEMO_10_WHEEL_TAGS) + 2


def test_ec74_only_the_file_without_a_digest_is_downloaded(
    run: Run, index_server: IndexServer, second_index_server: IndexServer, dist_dir: Path
) -> None:
    """One index advertises, the other does not: only the second one's file is fetched."""
    wheel = build_wheel(dist_dir, "demo", "1.0")
    sdist = build_sdist(second_index_server.root, "demo", "1.0")
    second_index_server.advertise = "none"
    write(Path("requirements.txt"), "demo==1.0\n")
    code, _, _ = run("requirements.txt", "--extra-index-url", second_index_server.index_url)
    assert code == 0
    assert hashes_in("requirements.txt")["demo"] == {digest(wheel), digest(sdist)}
    assert file_gets(index_server) == []
    assert file_gets(second_index_server) == [f"/files/{sdist.name}"]


def test_ec74_advertised_digests_mean_no_download(
    run: Run, index_server: IndexServer, demo: dict[str, Path]
) -> None:
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt")[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo)
    assert file_gets(index_server) == []


# -- EC75: algorithm -----------------------------------------------------------------------


def test_ec75_sha512_is_computed_by_download_when_only_sha256_is_advertised(
    run: Run, index_server: IndexServer, demo: dict[str, Path]
) -> None:
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt", "--algorithm", "sha512")[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo, algorithm="sha512")
    assert len(file_gets(index_server)) == len(demo_hashes(demo))


def test_ec75_advertised_sha512_is_used_without_download(
    run: Run, index_server: IndexServer, demo: dict[str, Path]
) -> None:
    index_server.advertise = "sha512"
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt", "--algorithm", "sha512")[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo, algorithm="sha512")
    assert file_gets(index_server) == []


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", "blake2b"])
def test_ec75_an_invalid_algorithm_exits_2(
    algorithm: str, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    write(Path("requirements.txt"), "demo==1.0\n")
    with pytest.raises(SystemExit) as exit_info:
        run("requirements.txt", "--algorithm", algorithm)
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert Path("requirements.txt").read_text() == "demo==1.0\n"


# -- EC76: stable output -------------------------------------------------------------------


def test_ec76_hashes_are_sorted_and_a_second_run_changes_nothing(
    run: Run, demo: dict[str, Path]
) -> None:
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt")[0] == 0
    first = Path("requirements.txt").read_text()
    written = [line.strip().removeprefix("--hash=").removesuffix(" \\")
               for line in first.splitlines()[1:]]  # fmt: skip
    assert written == sorted(written)
    assert run("requirements.txt", "--dry-run")[:2] == (0, "")
    code, out, _ = run("requirements.txt")
    assert (code, out.split(" in ")[0]) == (0, "nothing changed")
    assert Path("requirements.txt").read_text() == first


@pytest.mark.parametrize("style", ["one-line", "pip-compile"])
def test_ec76_a_complete_last_line_without_newline_gives_no_diff(
    style: str, run: Run, dist_dir: Path
) -> None:
    """A file whose last line has no line ending is not changed when its hashes are right."""
    hashes = build_project(dist_dir, "alpha", "1.0")
    if style == "one-line":
        text = "alpha==1.0 " + " ".join(f"--hash={h}" for h in hashes)
    else:
        text = block("alpha==1.0", hashes).removesuffix("\n")
    Path("requirements.txt").write_text(text)
    assert run("requirements.txt", "--dry-run")[:2] == (0, "")
    assert run("requirements.txt")[0] == 0
    assert Path("requirements.txt").read_text() == text


# -- EC77: finding the line ----------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["zope-interface", "Zope_Interface", "ZOPE.interface"])
def test_ec77_an_argument_updates_the_line_whatever_its_spelling(
    spelling: str, run: Run, dist_dir: Path
) -> None:
    """The file's spelling stays; the old version's hashes go, the new version's come."""
    old = build_project(dist_dir, "zope.interface", "5.0")
    new = build_project(dist_dir, "zope.interface", "5.1")
    write(Path("requirements.txt"), block("zope.interface==5.0", old, "\n    # via -r in.txt"))
    code, out, _ = run("requirements.txt", f"{spelling}==5.1")
    assert code == 0, out
    assert Path("requirements.txt").read_text() == block(
        "zope.interface==5.1", new, "\n    # via -r in.txt"
    )


def test_ec77_whole_names_only(run: Run, dist_dir: Path) -> None:
    """``selenium==2.0`` changes the selenium line, not pytest-selenium's."""
    selenium_1 = build_project(dist_dir, "selenium", "1.0")
    selenium_2 = build_project(dist_dir, "selenium", "2.0")
    plugin = build_project(dist_dir, "pytest-selenium", "1.0")
    write(
        Path("requirements.txt"),
        block("pytest-selenium==1.0", plugin) + block("selenium==1.0", selenium_1),
    )
    assert run("requirements.txt", "selenium==2.0")[0] == 0
    assert Path("requirements.txt").read_text() == (
        block("pytest-selenium==1.0", plugin) + block("selenium==2.0", selenium_2)
    )


def test_ec77_a_new_argument_is_appended_in_pip_compile_layout(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    beta = build_project(dist_dir, "Beta", "2.0")
    Path("requirements.txt").write_text(block("alpha==1.0", alpha) + "# the end")
    assert run("requirements.txt", "Beta==2.0")[0] == 0
    assert Path("requirements.txt").read_text() == (
        block("alpha==1.0", alpha) + "# the end\n" + block("Beta==2.0", beta)
    )


# -- EC78: keeping everything around the hashes --------------------------------------------


def test_ec78_a_pip_compile_file_keeps_everything_but_the_hashes(
    run: Run,
    index_server: IndexServer,
    second_index_server: IndexServer,
    dist_dir: Path,
) -> None:
    """Comments, option lines (the file's --extra-index-url is honoured), blank lines,
    extras, markers as written, per-line options and ``# via`` blocks stay; only hash lines
    change."""
    alpha = build_project(dist_dir, "alpha", "1.0")
    beta = build_project(dist_dir, "beta", "1.0")
    gamma = build_project(dist_dir, "gamma", "1.0")
    header = textwrap.dedent(f"""\
        #
        # This file is autogenerated by pip-compile with Python 3.11
        #
        --extra-index-url {second_index_server.index_url}
        --trusted-host 127.0.0.1

        """)
    alpha_head = """alpha[fast,socks] == 1.0 ; python_version >= "3.8" and sys_platform!='win32'"""
    via = "\n    # via\n    #   -r requirements.in\n    #   beta"
    write(
        Path("requirements.txt"),
        header
        + block(alpha_head, alpha[:1], via)
        + "\n"
        + "beta==1.0 \\\n    --config-settings=key=value\n    # via -r requirements.in\n"
        + "gamma==1.0  # pinned on purpose\n",
    )
    code, _, err = run("requirements.txt")
    assert (code, err) == (0, "")
    assert Path("requirements.txt").read_text() == (
        header
        + block(alpha_head, alpha, via)
        + "\n"
        + block(
            "beta==1.0 \\\n    --config-settings=key=value", beta, "\n    # via -r requirements.in"
        )
        + block("gamma==1.0", gamma, "  # pinned on purpose")
    )
    assert "/simple/alpha/" in page_gets(second_index_server)


def test_ec78_a_one_line_style_file_stays_one_line(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    beta = build_project(dist_dir, "beta", "1.0")
    beta_line = 'beta==1.0;python_version<"4" --config-settings key=value'
    write(
        Path("requirements.txt"),
        f"""\
        alpha==1.0 --hash={alpha[0]}  # comment
        {beta_line} --hash=sha256:{SHA_A} --hash={beta[1]}
        """,
    )
    code, _, err = run("requirements.txt")
    assert code == 0, err
    assert Path("requirements.txt").read_text() == (
        f"alpha==1.0 --hash={alpha[0]} --hash={alpha[1]}  # comment\n"
        f"{beta_line} " + " ".join(f"--hash={h}" for h in sorted([*beta, f"sha256:{SHA_A}"])) + "\n"
    )
    assert SHA_A in err  # EC81: kept, with a warning


def test_ec78_a_file_reached_by_r_is_rewritten_in_place(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    beta = build_project(dist_dir, "beta", "1.0")
    write(Path("requirements.txt"), "-r sub/base.txt\nalpha==1.0\n")
    write(Path("sub/base.txt"), "# base\nbeta==1.0\n")
    code, out, _ = run("requirements.txt")
    assert code == 0
    assert "updated requirements.txt" in out and "updated sub/base.txt" in out
    assert Path("requirements.txt").read_text() == "-r sub/base.txt\n" + block("alpha==1.0", alpha)
    assert Path("sub/base.txt").read_text() == "# base\n" + block("beta==1.0", beta)


def test_ec78_crlf_line_endings_are_kept(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    beta = build_project(dist_dir, "beta", "1.0")
    gamma = build_project(dist_dir, "gamma", "1.0")
    text = "# top\nalpha==1.0 \\\n    --hash=" + alpha[0] + "\n    # via x\n"
    text += "beta==1.0  # one\n" + f"gamma==1.0 --hash={gamma[1]}\n"
    Path("requirements.txt").write_bytes(text.replace("\n", "\r\n").encode())
    delta = build_project(dist_dir, "delta", "1.0")
    assert run("requirements.txt", "delta==1.0")[0] == 0
    expected = (
        "# top\n"
        + block("alpha==1.0", alpha, "\n    # via x")
        + block("beta==1.0", beta, "  # one")
        + f"gamma==1.0 --hash={gamma[0]} --hash={gamma[1]}\n"
        + block("delta==1.0", delta)
    )
    assert Path("requirements.txt").read_bytes() == expected.replace("\n", "\r\n").encode()


# -- EC79: filters ---------------------------------------------------------------------------


def test_ec79_python_and_platform_filters_use_real_tag_matching(
    run: Run, demo: dict[str, Path]
) -> None:
    """3.12 on manylinux_2_17_x86_64: its cp312 wheel, the abi3 wheel built for cp38, the
    universal wheel and the sdists; no Windows or macOS wheel, no cp311-only wheel."""
    write(Path("requirements.txt"), "demo==1.0\n")
    args = ["--python-version", "3.12", "--platform", "manylinux_2_17_x86_64"]
    assert run("requirements.txt", *args)[0] == 0
    kept = {
        "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "demo-1.0-cp38-abi3-manylinux_2_17_x86_64.whl",
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
        "demo-1.0.zip",
    }
    assert hashes_in("requirements.txt")["demo"] == {digest(demo[name]) for name in kept}


def test_ec79_no_sdist_drops_the_sdists(run: Run, demo: dict[str, Path]) -> None:
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt", "--platform", "win_amd64", "--no-sdist")[0] == 0
    kept = {"demo-1.0-cp311-cp311-win_amd64.whl", "demo-1.0-cp312-cp312-win_amd64.whl",
            "demo-1.0-py3-none-any.whl"}  # fmt: skip
    assert hashes_in("requirements.txt")["demo"] == {digest(demo[name]) for name in kept}


def test_ec79_implementation_and_abi_filters(run: Run, demo: dict[str, Path]) -> None:
    """``--implementation cp --abi cp312``: cp312 wheels of every platform, abi3 and
    ``none`` wheels, the sdists; not the cp311 ABI."""
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt", "--implementation", "cp", "--abi", "cp312")[0] == 0
    dropped = {"demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
               "demo-1.0-cp311-cp311-win_amd64.whl"}  # fmt: skip
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo) - {
        digest(demo[name]) for name in dropped
    }


# -- EC80: yanked ----------------------------------------------------------------------------


@pytest.mark.parametrize("page_format", ["json", "html"])
def test_ec80_a_yanked_pin_is_hashed_with_a_warning_giving_the_reason(
    page_format: str, run: Run, index_server: IndexServer, dist_dir: Path
) -> None:
    index_server.page_format = page_format
    alpha = build_project(dist_dir, "alpha", "1.0")
    index_server.yanked = {"alpha-1.0-py3-none-any.whl": "broken on Windows"}
    write(Path("requirements.txt"), "alpha==1.0\n")
    code, _, err = run("requirements.txt")
    assert code == 0
    assert "alpha-1.0-py3-none-any.whl is yanked: broken on Windows" in err
    assert hashes_in("requirements.txt")["alpha"] == set(alpha)


def test_ec80_files_with_invalid_versions_are_skipped(
    run: Run, demo: dict[str, Path], tmp_path: Path
) -> None:
    """Archives whose names hold no PEP 440 version do not stop the run."""
    links = tmp_path / "links"
    links.mkdir()
    for name in ("demo-latest.tar.gz", "demo-1.0-nightly.tar.bz2", "demo-1.0.zip.part"):
        (links / name).write_bytes(name.encode())
    write(Path("requirements.txt"), "demo==1.0\n")
    assert run("requirements.txt", "-f", str(links))[0] == 0
    assert hashes_in("requirements.txt")["demo"] == demo_hashes(demo)


# -- EC81: hashes no file has any more -------------------------------------------------------


def test_ec81_a_stale_hash_is_kept_with_a_warning_and_check_reports_it(
    run: Run, dist_dir: Path
) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    stale = f"sha256:{SHA_A}"
    text = block("alpha==1.0", sorted([*alpha, stale]))
    write(Path("requirements.txt"), text)
    code, out, err = run("requirements.txt")
    assert code == 0
    assert "requirements.txt:1: alpha==1.0: kept 1 hash(es) that no file" in err
    assert stale in err
    assert Path("requirements.txt").read_text() == text
    code, out, _ = run("requirements.txt", "--check")
    assert code == 1
    assert "requirements.txt:1: alpha==1.0 lists 1 hash(es) no file of it has" in out
    assert Path("requirements.txt").read_text() == text


# -- --check ---------------------------------------------------------------------------------


def test_check_exits_0_when_complete_and_writes_nothing(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    text = "# pins\n" + block("alpha==1.0", alpha)
    write(Path("requirements.txt"), text)
    code, out, err = run("requirements.txt", "--check")
    assert (code, out, err) == (0, "hashes are complete\n", "")
    assert Path("requirements.txt").read_text() == text


def test_check_exits_1_naming_the_line_that_lacks_a_hash(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    beta = build_project(dist_dir, "beta", "1.0")
    text = "# pins\n" + block("alpha==1.0", alpha) + block("beta==1.0", beta[1:])
    write(Path("requirements.txt"), text)
    code, out, _ = run("requirements.txt", "--check")
    assert code == 1
    assert out == (
        "requirements.txt:5: beta==1.0 lacks 1 hash(es) of files the index serves\n"
        "1 line(s) differ\n"
    )
    assert Path("requirements.txt").read_text() == text


@pytest.mark.parametrize("check", [True, False])
def test_unpinned_lines_are_skipped_and_listed_and_check_exits_2(
    check: bool, run: Run, dist_dir: Path
) -> None:
    """Issue 15 item 10: the pinned lines are hashed, the unpinned ones left as they are and
    listed (exit 0); ``--check`` exits 2 on them. pip 26.3 and uv have no command that
    rewrites a file's hashes (``pip hash`` hashes one archive); pip-compile and uv's
    ``pip compile --generate-hashes`` hash a resolution, never leave a line unhashed."""
    alpha = build_project(dist_dir, "alpha", "1.0")
    text = "alpha==1.0\nbeta>=1.0\ngamma\n"
    write(Path("requirements.txt"), text)
    code, out, err = run("requirements.txt", *(["--check"] if check else []))
    assert code == (2 if check else 0)
    assert "requirements.txt:2: beta>=1.0 is not pinned" in err
    assert "requirements.txt:3: gamma is not pinned" in err
    if check:
        assert Path("requirements.txt").read_text() == text
        assert "requirements.txt:1: alpha==1.0 lacks 2 hash(es)" in out
    else:
        hashed = block("alpha==1.0", alpha) + "beta>=1.0\ngamma\n"
        assert Path("requirements.txt").read_text() == hashed


def test_check_lists_the_lines_in_file_order(run: Run, dist_dir: Path) -> None:
    """Issue 15 item 10: ``--check`` names the lines top to bottom (they came bottom up)."""
    build_project(dist_dir, "alpha", "1.0")
    build_project(dist_dir, "beta", "1.0")
    write(Path("requirements.txt"), "alpha==1.0\nbeta==1.0\n")
    code, out, _ = run("requirements.txt", "--check")
    assert code == 1
    assert out.splitlines() == [
        "requirements.txt:1: alpha==1.0 lacks 2 hash(es) of files the index serves",
        "requirements.txt:2: beta==1.0 lacks 2 hash(es) of files the index serves",
        "2 line(s) differ",
    ]


def test_check_with_name_version_arguments_fails_when_a_run_would_write(
    run: Run, dist_dir: Path
) -> None:
    """A new version for a line, or a project the file lacks, is drift: exit 1, no write."""
    alpha = build_project(dist_dir, "alpha", "1.0")
    build_project(dist_dir, "alpha", "2.0")
    build_project(dist_dir, "beta", "1.0")
    text = block("alpha==1.0", alpha)
    write(Path("requirements.txt"), text)
    assert run("requirements.txt", "alpha==1.0", "--check")[:2] == (0, "hashes are complete\n")
    code, out, _ = run("requirements.txt", "alpha==2.0", "--check")
    assert code == 1
    assert "requirements.txt:1: alpha==2.0 is pinned to 1.0 in the file" in out
    code, out, _ = run("requirements.txt", "beta==1.0", "--check")
    assert code == 1
    assert "requirements.txt: beta==1.0 is not in it" in out
    assert Path("requirements.txt").read_text() == text


# -- what is not on the index ----------------------------------------------------------------


def test_a_project_missing_from_the_index_exits_4(run: Run, dist_dir: Path) -> None:
    build_project(dist_dir, "alpha", "1.0")
    text = "alpha==1.0\nno-such-project==1.0\n"
    write(Path("requirements.txt"), text)
    code, out, err = run("requirements.txt")
    assert code == 4
    assert "not found on any configured index" in err
    assert "requirements.txt:2: no-such-project: not found" in err
    assert out == ""
    assert Path("requirements.txt").read_text() == text


def test_a_pinned_version_missing_from_the_index_exits_2(run: Run, dist_dir: Path) -> None:
    build_project(dist_dir, "alpha", "1.0")
    build_project(dist_dir, "alpha", "1.1")
    text = "alpha==1.2\n"
    write(Path("requirements.txt"), text)
    code, _, err = run("requirements.txt")
    assert code == 2
    assert "requirements.txt:1: alpha==1.2: no file of this version" in err
    assert "latest: 1.0, 1.1" in err
    assert Path("requirements.txt").read_text() == text


# -- output choices --------------------------------------------------------------------------


def test_output_file_leaves_the_input_untouched(run: Run, dist_dir: Path) -> None:
    """``-o`` writes the first file's result elsewhere; neither it nor a file it includes
    is changed."""
    alpha = build_project(dist_dir, "alpha", "1.0")
    build_project(dist_dir, "beta", "1.0")
    write(Path("requirements.txt"), "# pins\n-r base.txt\nalpha==1.0\n")
    write(Path("base.txt"), "beta==1.0\n")
    code, out, _ = run("requirements.txt", "-o", "hashed.txt")
    assert code == 0
    assert "wrote hashed.txt" in out
    assert Path("requirements.txt").read_text() == "# pins\n-r base.txt\nalpha==1.0\n"
    assert Path("base.txt").read_text() == "beta==1.0\n"
    assert Path("hashed.txt").read_text() == "# pins\n-r base.txt\n" + block("alpha==1.0", alpha)


def test_dry_run_prints_a_unified_diff_and_changes_nothing(run: Run, dist_dir: Path) -> None:
    alpha = build_project(dist_dir, "alpha", "1.0")
    write(Path("requirements.txt"), "# pins\nalpha==1.0\n")
    code, out, _ = run("requirements.txt", "--dry-run")
    assert code == 0
    assert out == (
        "--- requirements.txt\n+++ requirements.txt\n@@ -1,2 +1,4 @@\n # pins\n-alpha==1.0\n"
        + "".join(f"+{line}\n" for line in block("alpha==1.0", alpha).splitlines())
    )
    assert Path("requirements.txt").read_text() == "# pins\nalpha==1.0\n"
    assert not Path("hashed.txt").exists()


def test_dry_run_marks_a_last_line_without_newline(run: Run, dist_dir: Path) -> None:
    """The diff stays a valid patch: the missing line ending is marked, not glued on."""
    alpha = build_project(dist_dir, "alpha", "1.0")
    Path("requirements.txt").write_text("alpha==1.0")
    code, out, _ = run("requirements.txt", "--dry-run")
    assert code == 0
    new = block("alpha==1.0", alpha).removesuffix("\n").split("\n")
    assert out == (
        "--- requirements.txt\n+++ requirements.txt\n@@ -1 +1,3 @@\n-alpha==1.0\n"
        "\\ No newline at end of file\n"
        + "".join(f"+{line}\n" for line in new)
        + "\\ No newline at end of file\n"
    )
    assert run("requirements.txt")[0] == 0
    assert Path("requirements.txt").read_text() == "\n".join(new)


# -- several indexes, speed ------------------------------------------------------------------


def test_hashes_from_every_index_are_collected(
    run: Run, index_server: IndexServer, second_index_server: IndexServer, dist_dir: Path
) -> None:
    """Two indexes serve different files of 1.0 (one a rebuild under the same name): every
    file's digest is written, each once."""
    wheel = build_wheel(dist_dir, "alpha", "1.0")
    sdist = build_sdist(dist_dir, "alpha", "1.0")
    (second_index_server.root / sdist.name).write_bytes(sdist.read_bytes())  # same file
    linux = build_wheel(second_index_server.root, "alpha", "1.0", tag="cp311-cp311-linux_x86_64")
    rebuilt = build_wheel(second_index_server.root, "alpha", "1.0", files={"alpha.py": ""})
    assert rebuilt.name == wheel.name
    write(Path("requirements.txt"), "alpha==1.0\n")
    assert run("requirements.txt", "--extra-index-url", second_index_server.index_url)[0] == 0
    assert Path("requirements.txt").read_text() == block(
        "alpha==1.0", sorted({digest(p) for p in (wheel, sdist, linux, rebuilt)})
    )
    assert len(set(hashes_in("requirements.txt")["alpha"])) == 4


def test_project_pages_are_fetched_once_each_in_parallel_and_no_metadata(
    run: Run, index_server: IndexServer, dist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page GET waits at a barrier for the others: the run only succeeds when all
    three pages are in flight together. Digests come from the pages, so no ``.metadata``."""
    names = ["alpha", "beta", "gamma"]
    for name in names:
        build_project(dist_dir, name, "1.0")
    barrier = threading.Barrier(len(names), timeout=10)
    respond = index_server.respond

    def waiting_respond(path: str, headers: Message) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/simple/"):
            barrier.wait()
        return respond(path, headers)

    monkeypatch.setattr(index_server, "respond", waiting_respond)
    write(Path("requirements.txt"), "".join(f"{name}==1.0\n" for name in names))
    assert run("requirements.txt", "beta==1.0")[0] == 0
    assert sorted(page_gets(index_server)) == [f"/simple/{name}/" for name in names]
    assert not [path for _, path in index_server.requests if path.endswith(".metadata")]
    assert set(hashes_in("requirements.txt")) == set(names)
