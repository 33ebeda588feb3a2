"""How a plan's actions read on the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pip_hashsync.resolve.plan import Action


_SIGNS = {"install": "+", "remove": "-", "replace": "~", "reinstall": "~", "keep": "="}


def action_line(action: Action, *, would: bool) -> str:
    """`` + six==1.17.0 (six-1.17.0-py2.py3-none-any.whl): not installed``"""
    version = action.version or action.installed_version
    built = ", built from source" if action.file and not action.file.is_wheel else ""
    source = f" ({action.file.filename}{built})" if action.file else ""
    prefix = "would " + action.action + " " if would else f" {_SIGNS[action.action]} "
    return f"{prefix}{action.name}=={version}{source}: {action.reason}"
