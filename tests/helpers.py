"""Small helpers shared by the tests."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

from indexserver import IndexServer

from pip_hashsync.commands.lint import LintReport, lint

#: Real-looking digests for tests (sha256 of b"a", b"b", …).
SHA_A = hashlib.sha256(b"a").hexdigest()
SHA_B = hashlib.sha256(b"b").hexdigest()
SHA_C = hashlib.sha256(b"c").hexdigest()
SHA512_A = hashlib.sha512(b"a").hexdigest()


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def lint_text(tmp: Path, text: str, **kwargs: object) -> LintReport:
    """Lint one requirements file with the given content."""
    return lint([str(write(tmp / "requirements.txt", text))], **kwargs)  # type: ignore[arg-type]


def kinds(report: LintReport) -> list[str]:
    return [p.kind for p in report.problems]


_MEASURED = """\
import resource, sys
from pip_hashsync.cli import main
code = main(sys.argv[1:])
print("peak-rss-kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def measured_sync(venv: Path, cache: Path, index: IndexServer) -> tuple[int, str, int]:
    """``sync requirements.txt`` in a child process -> (exit code, stderr, peak RSS bytes)."""
    argv = [sys.executable, "-c", _MEASURED, "sync", "requirements.txt", "--venv", str(venv)]
    argv += ["-i", index.index_url, "--cache-dir", str(cache), "--no-input"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    peak = int(done.stderr.rsplit("peak-rss-kib", 1)[1].split()[0]) * 1024
    return done.returncode, done.stderr, peak
