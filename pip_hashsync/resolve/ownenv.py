"""A sync must not break pip-hashsync itself (issue 15): when the target is the environment
it runs from, a plan that leaves one of its own requirements unsatisfied is refused before
anything changes (the next run would die importing a downgraded dependency)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pip_hashsync.errors import Problem
from pip_hashsync.resolve.plan import Action


def breaks_us(actions: Iterable[Action], requirements: Sequence[Requirement]) -> list[Problem]:
    """One problem per change that ``requirements`` (pip-hashsync's own) do not allow."""
    needed: dict[str, Requirement] = {canonicalize_name(r.name): r for r in requirements}
    problems = []
    for action in actions:
        requirement = needed.get(action.key)
        if requirement is None or not action.changes:
            continue
        if action.action == "remove":
            change = f"removes {action.name} {action.installed_version or ''}".rstrip()
        elif action.version and not requirement.specifier.contains(
            action.version, prereleases=True
        ):
            change = f"installs {action.name} {action.version}"
        else:
            continue
        problems.append(
            Problem("self", f"pip-hashsync needs {requirement}; the plan {change}", name=action.key)
        )
    return problems
