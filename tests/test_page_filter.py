"""A pinned project's index page read only for the pinned version (issue 16): the files kept
are exactly those a full read gives for that version, and a failed run still names what
else the index offers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import SHA_A, write
from indexserver import IndexServer
from packaging.specifiers import SpecifierSet

from pip_hashsync.cli import main
from pip_hashsync.index.http import HttpClient, HttpSettings
from pip_hashsync.index.pages import Index, parse_page

PAGE_URL = "https://example.test/simple/big/"
TAGS = [
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-win_amd64",
    "cp312-cp312-macosx_11_0_arm64",
    "pp310-pypy310_pp73-musllinux_1_1_aarch64",
    "py3-none-any",
]


def _big_page_files() -> list[str]:
    """A page as large and as odd as real ones: many versions, each with wheels of shared
    tag sets, build tags, sdists of two formats, pre-releases, local labels, a version
    spelled with a trailing zero, and names that are not this project's or no archive."""
    names = []
    versions = [f"{major}.{minor}" for major in range(1, 16) for minor in range(20)]
    versions += ["1.5.0", "1.5+cpu", "1.5rc1", "1.5.1rc1", "1.6.dev0", "1!1.5"]
    for version in versions:
        names += [f"big-{version}-{tag}.whl" for tag in TAGS]
        names += [f"big-{version}-1extra-py3-none-any.whl", f"big-{version}.tar.gz"]
        names.append(f"Big-{version}.zip")
    names += [
        "big-1.5-not-a-wheel.whl",
        "big-nonsense-py3-none-any.whl",
        "other-1.5-py3-none-any.whl",
        "big-1.5-py3-none-any.exe",
        "big-1.5-cp311-cp311-bad tag.whl",
        "",
    ]
    return names


def _json_page(filenames: list[str]) -> bytes:
    files: list[dict[str, Any]] = []
    for number, filename in enumerate(filenames):
        entry: dict[str, Any] = {
            "filename": filename,
            "url": f"../../files/{filename}",
            "hashes": {"sha256": f"{number:064x}"},
        }
        if number % 7 == 0:
            entry["requires-python"] = ">=3.8"
        if number % 11 == 0:
            entry["yanked"] = "broken"
        if number % 3 == 0:
            entry["core-metadata"] = {"sha256": f"{number + 1:064x}"}
        files.append(entry)
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "big", "files": files}).encode()


def _html_page(filenames: list[str]) -> bytes:
    anchors = "".join(
        f'<a href="../../files/{name}#sha256={n:064x}" data-requires-python="&gt;=3.8">{name}</a>'
        for n, name in enumerate(filenames)
    )
    return f"<html><body>{anchors}</body></html>".encode()


@pytest.mark.parametrize(
    ("content_type", "render"),
    [("application/vnd.pypi.simple.v1+json", _json_page), ("text/html", _html_page)],
)
@pytest.mark.parametrize("wanted", ["==1.5", "===1.5", ">=1.5,<1.6", "==1!1.5"])
def test_filtered_parse_keeps_exactly_the_wanted_versions_files(
    content_type: str, render: Any, wanted: str
) -> None:
    content = render(_big_page_files())
    specifier = SpecifierSet(wanted)
    full = parse_page(content, content_type, PAGE_URL, "example", "big")
    filtered = parse_page(content, content_type, PAGE_URL, "example", "big", specifier)
    expected = [link for link in full if specifier.contains(link.version, prereleases=True)]
    assert len(full) > 2000
    assert expected
    assert filtered == expected


def test_index_reads_a_pinned_project_for_its_version_until_widened(
    index_server: IndexServer, dist_dir: Path
) -> None:
    for version in ("1.0", "2.0", "2.1rc1"):
        build_wheel(dist_dir, "a", version)
    client = HttpClient(HttpSettings(retries=0))
    everything = Index(client, (index_server.index_url,)).files("a")
    index = Index(client, (index_server.index_url,), versions={"a": SpecifierSet("==1.0")})
    index.prefetch(["a"])
    assert [str(link.version) for link in index.files("a")] == ["1.0"]
    assert index.widen()
    assert index.files("a") == everything
    assert not index.widen()
    client.close()


@pytest.fixture
def plan_of(
    capsys: pytest.CaptureFixture[str], index_server: IndexServer, workdir: Path, empty_venv: Path
) -> Callable[[str], dict[str, Any]]:
    """``plan_of(requirements)``: the JSON plan of ``sync --dry-run`` for that file."""

    def plan(text: str) -> dict[str, Any]:
        write(workdir / "requirements.txt", text)
        argv = [
            "sync",
            "--dry-run",
            "--format",
            "json",
            "requirements.txt",
            "--venv",
            str(empty_venv),
        ]
        main([*argv, "-i", index_server.index_url, "--no-input"])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return dict(json.loads(out))

    return plan


def test_pin_of_a_missing_version_is_no_version_not_an_unknown_project(
    plan_of: Callable[[str], dict[str, Any]], dist_dir: Path
) -> None:
    """The pinned version is absent but others are offered: the project is on the index
    (no-version, exit 2), as when every file was read — not "no file of this project"."""
    build_wheel(dist_dir, "a", "1.0")
    plan = plan_of(f"a==3.0 --hash=sha256:{SHA_A}\n")
    assert [p["kind"] for p in plan["problems"]] == ["no-version"]
    assert "no version satisfies the requirement" in plan["problems"][0]["message"]


def test_pinned_version_with_other_hashes_still_offers_paste_ready_lines(
    plan_of: Callable[[str], dict[str, Any]], dist_dir: Path
) -> None:
    wheel = build_wheel(dist_dir, "a", "1.0")
    build_wheel(dist_dir, "a", "2.0")
    plan = plan_of(f"a==1.0 --hash=sha256:{SHA_A}\n")
    assert [p["kind"] for p in plan["problems"]] == ["no-match"]
    message = plan["problems"][0]["message"]
    assert "1 would without hash checking" in message
    assert f"--hash=sha256:{sha256_of(wheel)}" in message
