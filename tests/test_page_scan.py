"""A large PEP 691 page narrowed to a pinned version is scanned, not decoded whole (issue 16);
whatever the page holds, the files found are the ones decoding it whole finds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from pip_hashsync.index import pages

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
URL = "https://example.org/simple/demo-pkg/"


def _entry(filename: str, **extra: Any) -> dict[str, Any]:
    return {
        "filename": filename,
        "url": f"../../files/{filename}",
        "hashes": {"sha256": "ab" * 32},
        **extra,
    }


def _page(entries: list[dict[str, Any]], compact: bool = True) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    page = {"meta": {"api-version": "1.1"}, "name": "demo-pkg", "files": entries}
    return json.dumps(page, separators=separators).encode()


ENTRIES = [
    # core-metadata (a mapping) before the filename, as the default index orders keys
    {"core-metadata": {"sha256": "cd" * 32}, **_entry("demo_pkg-1.0-py3-none-any.whl")},
    _entry("demo_pkg-1.0.tar.gz", yanked='broken {"filename": "demo_pkg-2.0.tar.gz"} }{'),
    _entry("demo-pkg-1.0.zip"),
    _entry("Demo.Pkg-1.0.0.tar.gz"),
    _entry("demo_pkg-1.0-1-py3-none-any.whl"),
    _entry(
        "demo_pkg-1.0+local-cp311-cp311-manylinux_2_17_x86_64.whl", **{"requires-python": ">=3.8"}
    ),
    _entry("demo_pkg-2.0-py3-none-any.whl"),
    _entry("demo_pkg-2.0.tar.gz"),
    _entry("demo_pkg-1.0.win32.exe"),
    _entry("demo_pkg-1.0-py2.7.egg"),
    _entry("demo_pkg-not.a.version-py3-none-any.whl"),
    _entry("demo_pkg-1.0rc1-py3-none-any.whl"),
    _entry("other_pkg-1.0-py3-none-any.whl"),
    {"filename": "demo_pkg-1.0-py3-none-manylinux1_x86_64.whl"},  # no url: not a file
]


def _whole(content: bytes, specifier: SpecifierSet) -> list[pages.FileLink]:
    """What decoding the whole page finds."""
    wanted = pages._VersionFilter(specifier, "demo-pkg")
    kept = [f for f in pages._json_files(content, URL) if wanted.may_keep(f["filename"])]
    scanned = pages._scanned_json_files
    try:
        pages._scanned_json_files = lambda content, wanted: None  # type: ignore[assignment]
        links = pages.parse_page(content, JSON_TYPE, URL, "idx", "demo-pkg", specifier)
    finally:
        pages._scanned_json_files = scanned
    assert len(kept) >= len(links)
    return links


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("pin", ["==1.0", "==2.0", "==1.0rc1", "==3.0", ">=1.0"])
def test_a_scanned_page_finds_what_a_decoded_one_does(compact: bool, pin: str) -> None:
    content = _page(ENTRIES, compact)
    specifier = SpecifierSet(pin)
    assert pages._scanned_json_files(content, pages._VersionFilter(specifier, "demo-pkg"))
    scanned = pages.parse_page(content, JSON_TYPE, URL, "idx", "demo-pkg", specifier)
    assert scanned == _whole(content, specifier)
    everything = pages.parse_page(content, JSON_TYPE, URL, "idx", "demo-pkg")
    assert scanned == [link for link in everything if specifier.contains(link.version, True)]


def test_a_filename_with_an_escape_makes_the_page_decoded_whole() -> None:
    content = _page([*ENTRIES, _entry("demo_pkg-1.0-py3-none-any\u00e9.whl")])
    content = content.replace("é".encode(), b"\\u00e9")
    specifier = SpecifierSet("==1.0")
    assert pages._scanned_json_files(content, pages._VersionFilter(specifier, "demo-pkg")) is None
    links = pages.parse_page(content, JSON_TYPE, URL, "idx", "demo-pkg", specifier)
    assert links == _whole(content, specifier)
