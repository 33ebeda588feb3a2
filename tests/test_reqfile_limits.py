"""Requirements files that would make the reader recurse, read or wait forever are refused
with a clear message naming the file (and the line that included it), exit 2: includes
nested deeper than :data:`MAX_INCLUDE_DEPTH`, files larger than :data:`MAX_FILE_SIZE`, and
devices (such as ``/dev/zero``) and FIFOs that nothing writes to; a pipe is read as pip
reads it, up to the same limit. Long ``--hash`` lists parse in time proportional to their
length.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import SHA_A, kinds, write

from pip_hashsync.cli import main
from pip_hashsync.commands.lint import lint
from pip_hashsync.requirements.hashes import AllowedHashes, Digest
from pip_hashsync.requirements.reader import (
    MAX_FILE_SIZE,
    MAX_INCLUDE_DEPTH,
    parse_line_options,
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
    too_deep = tmp_path / f"r{MAX_INCLUDE_DEPTH + 1}.txt"
    assert (
        f"{deepest}:1: Could not read requirements file {too_deep}: "
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
        f"Could not read requirements file {fifo}: it is a FIFO that nothing writes to"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="/dev/fd")
def test_a_pipe_is_read_as_pip_reads_it(tmp_path: Path) -> None:
    """``-r /dev/stdin`` and ``-r <(cmd)`` name a pipe with a writer: read, as pip 26.3
    and uv read them; a writer that never stops is cut at the size limit."""
    lock = f"alpha==1.0 --hash=sha256:{SHA_A}\n"
    for command, expected in [
        (["printf", lock], ["alpha==1.0"]),
        (["cat", "/dev/zero"], None),
    ]:
        writer = subprocess.Popen(command, stdout=subprocess.PIPE)
        assert writer.stdout is not None
        try:
            report = lint([f"/dev/fd/{writer.stdout.fileno()}"])
        finally:
            writer.kill()
            writer.wait()
            writer.stdout.close()
        if expected is None:
            assert "larger than 50 MB" in report.problems[0].message
        else:
            assert [r.text for r in report.lines.requirements] == expected


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


# -- long --hash lists ---------------------------------------------------------------------


def digests(count: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(count)]


def growth(small: Callable[[], object], large: Callable[[], object], *, limit: float) -> float:
    """How many times the CPU time of ``small`` ``large`` takes: the best of up to three
    tries, so that a busy machine cannot make a linear cost look worse. ``small`` runs once
    before, so that what is built on first use is not counted."""
    small()
    ratios = []
    for _ in range(3):
        times = []
        for work in (small, large):
            started = time.process_time()
            work()
            times.append(max(time.process_time() - started, 1e-4))
        ratios.append(times[1] / times[0])
        if ratios[-1] < limit:
            break
    return min(ratios)


def test_100000_hashes_parse_in_linear_time() -> None:
    """``--hash VALUE`` goes through optparse, which took each word off the front of a
    list, so the cost grew with the square of their number."""
    small, large = (" ".join(f"--hash sha256:{d}" for d in digests(n)) for n in (10_000, 100_000))
    parsed: list[dict[str, list[Digest]]] = []
    ratio = growth(
        lambda: parse_line_options(small),
        lambda: parsed.append(parse_line_options(large)[0]),
        limit=20,
    )
    assert ratio < 20  # linear: about 9; it was 30 to 40
    assert len(parsed[-1]["hashes"]) == 100_000


def test_100000_hashes_on_continuation_lines_are_read(tmp_path: Path) -> None:
    values = digests(100_000)
    options = [
        f"--hash=sha256:{d}" if i % 2 else f"--hash sha256:{d}" for i, d in enumerate(values)
    ]
    write(tmp_path / "requirements.txt", "six==1.17.0 \\\n" + " \\\n".join(options) + "\n")
    report = lint([str(tmp_path / "requirements.txt")])
    assert report.ok, report.problems
    (six,) = report.lines.requirements
    assert [d.value for d in six.hashes] == values


def test_allowed_hashes_answer_in_a_time_that_does_not_grow_with_their_number() -> None:
    """The planner asks ``algorithms`` and ``allows`` for every allowed digest (each a
    cached archive to look up) and every file: that cost 100,000 x 100,000 steps."""

    def questions(allowed: AllowedHashes) -> Callable[[], object]:
        archive = {"sha256": digests(1)[0], "sha512": "0" * 128}
        return lambda: [(allowed.algorithms, allowed.allows(archive)) for _ in range(500)]

    few, many = (
        AllowedHashes().narrowed(Digest("sha256", d) for d in digests(n)) for n in (100, 100_000)
    )
    assert many.allows({"sha256": digests(1)[0]})
    assert not many.allows({"sha256": "f" * 64})
    assert growth(questions(few), questions(many), limit=10) < 10  # about 1; it was 1,000
