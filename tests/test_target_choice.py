"""Which environment ``sync`` changes, and what it never does to it (issue 15): the
activated venv, pip-hashsync's own environment, the protected set, a ``--venv`` that a
failed run created, and targets of every Python pip-hashsync supports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pip_hashsync.environment.target import introspect, protected_names


def test_protected_names_include_pip_tools_list() -> None:
    """pip-sync (pip-tools) never removes ``-markerlib``, ``pip``, ``pip-tools``,
    ``pip-review``, ``pkg-resources``, ``setuptools``, ``wsgiref``, ``argparse``, ``python``
    and ``distribute``; pip 26.3 has no sync, uv's ``pip sync`` removes all but its seed
    packages. We keep pip-tools' list whatever the target's version."""
    names = protected_names(introspect(sys.executable, None))
    assert {
        "pip-tools", "pip-review", "wsgiref", "argparse", "python", "distribute",
        "pkg-resources", "-markerlib", "pip", "pip-hashsync",
    } <= names  # fmt: skip
