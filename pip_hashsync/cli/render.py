"""How a plan's actions read on the terminal: the same words whether they were carried out
(a real run) or would be (``--check``, ``--dry-run``); only the summary line says which."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pip_hashsync.resolve.plan import Action


#: The kinds of action in the order the summary names them, with their past tense.
ACTION_KINDS = {"install": "installed", "replace": "replaced", "reinstall": "reinstalled",
                "remove": "removed", "keep": "kept"}  # fmt: skip
_SIGNS = {"install": "+", "remove": "-", "replace": "~", "reinstall": "~", "keep": "="}


def action_line(action: Action, *, verbose: bool) -> str:
    """`` + six==1.17.0``, `` ~ idna 3.20 → 3.19``, `` - tomli==2.2.1`` (as uv writes them);
    ``verbose`` adds the file and, in brackets, the reason."""
    if action.action == "replace" and action.installed_version:
        what = f"{action.name} {action.installed_version} {_arrow()} {action.version}"
    else:
        what = f"{action.name}=={action.version or action.installed_version}"
    line = f" {_SIGNS[action.action]} {what}"
    if not verbose:
        return line
    file = action.file
    built = ", built from source" if file and not file.is_wheel else ""
    source = f"  {file.filename} from {file.origin}{built}" if file else ""
    return f"{line}{source} ({action.reason})"


def _arrow() -> str:
    """``→`` where stdout can write it (a Windows pipe's code page may not), else ``->``."""
    try:
        "→".encode(sys.stdout.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return "->"
    return "→"


def counts(actions: Sequence[Action]) -> dict[str, int]:
    """How many actions of each kind, every kind named."""
    return {kind: sum(1 for a in actions if a.action == kind) for kind in ACTION_KINDS}


def summary_line(actions: Sequence[Action], *, applied: bool, seconds: float) -> str:
    """``installed 2, removed 1, kept 5 in 1.23 s``; for changes not carried out, ``would
    install 2, remove 1, keep 5 in 0.41 s``."""
    numbers = counts(actions)
    would = not applied and any(a.changes for a in actions)
    parts = [
        f"{verb if would else past} {numbers[verb]}"
        for verb, past in ACTION_KINDS.items()
        if numbers[verb]
    ]
    text = ", ".join(parts) or "nothing to do"
    return f"{'would ' if would else ''}{text} in {seconds:.2f} s"
