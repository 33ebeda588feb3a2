"""Requirements files that would make the reader recurse, read or wait forever are refused
with a clear message naming the file (and the line that included it), exit 2: includes
nested deeper than :data:`MAX_INCLUDE_DEPTH`, files larger than :data:`MAX_FILE_SIZE`, and
anything but a regular file (a device such as ``/dev/zero``, a FIFO). Long ``--hash`` lists
parse in time proportional to their length.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import SHA_A, kinds, write

from pip_hashsync.cli import main
from pip_hashsync.commands.lint import lint
from pip_hashsync.requirements.reader import (
    MAX_FILE_SIZE,
    MAX_INCLUDE_DEPTH,
    RequirementsReader,
)


def include_chain(folder: Path, depth: int) -> Path:
    """``r0.txt`` includes ``r1.txt`` … down to ``r{depth}.txt``, which names one project."""
    for level in range(depth):
        write(folder / f"r{level}.txt", f"-r r{level + 1}.txt\n")
    write(folder / f"r{depth}.txt", f"six==1.17.0 --hash=sha256:{SHA_A}\n")
    return folder / "r0.txt"


def test_includes_as_deep_as_the_limit_are_read(tmp_path: Path) -> None:
    report = lint([str(include_chain(tmp_path, MAX_INCLUDE_DEPTH))])
    assert report.ok, report.problems
    assert [r.name for r in report.lines.requirements] == ["six"]


def test_a_chain_of_500_includes_is_refused_at_the_line_that_goes_too_deep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = include_chain(tmp_path, 500)
    assert main(["lint", str(top)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err
    deepest = tmp_path / f"r{MAX_INCLUDE_DEPTH}.txt"
    assert (
        f"{deepest}:1: Could not read requirements file {tmp_path / f'r{MAX_INCLUDE_DEPTH + 1}.txt'}: "
        f"-r/-c includes nest more than {MAX_INCLUDE_DEPTH} files deep"
    ) in err


def test_dev_zero_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "requirements.txt", "-r /dev/zero\n")
    assert main(["lint", str(tmp_path / "requirements.txt")]) == 2
    err = capsys.readouterr().err
    assert (
        f"{tmp_path / 'requirements.txt'}:1: Could not read requirements file /dev/zero: "
        "it is a device, not a regular file"
    ) in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "requirements.txt"
    os.mkfifo(fifo)
    report = lint([str(fifo)])  # with no writer, opening it to read would wait forever
    assert kinds(report) == ["file"]
    assert report.problems[0].message == (
        f"Could not read requirements file {fifo}: it is a FIFO, not a regular file"
    )


def test_a_file_larger_than_the_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "requirements.txt"
    with open(huge, "wb") as file:
        file.truncate(MAX_FILE_SIZE + 1)  # sparse: takes no disk space
    report = lint([str(huge)])
    assert kinds(report) == ["file"]
    assert report.problems[0].message == (
        f"Could not read requirements file {huge}: it is larger than "
        f"{MAX_FILE_SIZE // 2**20} MB, more than any requirements file needs"
    )


def test_a_directory_is_still_named_as_one(tmp_path: Path) -> None:
    report = lint([str(tmp_path)])
    assert report.problems[0].message == (
        f"Could not read requirements file {tmp_path}: it is a directory, not a file"
    )
