"""Differential tests: our reader against pip's own parser, line by line (pip is the oracle).

Inputs are real files written by pip-compile and uv (``fixtures/compiled``, see its
README.txt) and a file that uses every option pip reads (``fixtures/parity``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pip_oracle import assert_same, pip_options

from pip_hashsync.commands.lint import lint

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["pip-compile.txt", "uv.txt", "uv-universal.txt"])
def test_compiled_locks_parse_as_pip_parses_them(name: str) -> None:
    assert_same(str(FIXTURES / "compiled" / name))


@pytest.fixture
def parity_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the parity fixtures as the current directory (pip reads paths from it)."""
    target = tmp_path / "parity"
    shutil.copytree(FIXTURES / "parity", target)
    monkeypatch.chdir(target)
    monkeypatch.setenv("PARITY_TOKEN", "s3cret")
    return target


def test_every_option_and_line_form_parses_as_pip_parses_it(parity_dir: Path) -> None:
    assert_same("all-options.txt")


@pytest.mark.parametrize("name", ["bom-utf8.txt", "utf16.txt", "pep263-latin1.txt"])
def test_encodings_decode_as_pip_decodes_them(parity_dir: Path, name: str) -> None:
    assert_same(name)


def test_global_options_match_pips(parity_dir: Path) -> None:
    options = lint(["all-options.txt"]).lines.options
    pips = pip_options("all-options.txt")
    indexes = [] if options.no_index else [options.index_url, *options.extra_index_urls]
    assert indexes == pips["index_urls"]
    assert options.find_links == pips["find_links"]
    assert options.prefer_binary == pips["prefer_binary"]
    assert sorted(options.no_binary) == pips["no_binary"]
    assert sorted(options.only_binary) == pips["only_binary"]
    assert (options.require_hashes is not None) == pips["require_hashes"]
    assert options.features == pips["use_feature"]
    assert options.trusted_hosts == pips["trusted_hosts"]
