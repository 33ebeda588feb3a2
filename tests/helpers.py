"""Small helpers shared by the tests."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

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
