"""Resolution when every line is an exact pin: the answer is forced, so check it directly.

A lock names one version per project. resolvelib would reach the same answer, but through
thousands of satisfaction checks and criteria merges, which is most of the time of a sync
that changes one version. Here each line's best candidate is taken (the provider's own
ranking, so the file choice is the same) and every dependency is checked against the
candidates taken. Anything this cannot settle alone (a range, a URL, an unlisted extra's
version, a dependency the pins do not satisfy) returns None, and resolvelib runs and
explains the conflict in its own words.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import replace

from pip_hashsync.index.candidates import Candidate
from pip_hashsync.resolve.provider import HashAwareProvider, Want


def is_exact_pin(want: Want) -> bool:
    """``==V`` without a wildcard, and no URL: exactly one version can satisfy it."""
    specs = list(want.specifier)
    return (
        want.url is None
        and len(specs) == 1
        and specs[0].operator == "=="
        and not specs[0].version.endswith(".*")
    )


def resolve_pins(
    provider: HashAwareProvider,
    roots: Sequence[Want],
    best: Mapping[str, Candidate],
) -> dict[str, Candidate] | None:
    """Every identifier's candidate when ``roots`` are exact pins whose dependencies the
    pins satisfy, or None when resolvelib must decide. ``best`` holds the provider's first
    candidate for each root's identifier."""
    if not all(is_exact_pin(root) for root in roots):
        return None
    if len({root.identifier for root in roots}) != len(roots):
        return None  # two lines for one project: resolvelib merges them
    chosen = {root.identifier: best[root.identifier] for root in roots}
    for candidate in list(chosen.values()):
        # A line with extras pins the project itself too (its own dependency says so).
        chosen.setdefault(candidate.key, replace(candidate, extras=frozenset()))
    # By identifier, as resolvelib pins them: who is recorded as first requiring a
    # project (the chain a message shows) does not depend on the order of the lines.
    pending = sorted(chosen)
    heapq.heapify(pending)
    while pending:
        for want in provider.get_dependencies(chosen[heapq.heappop(pending)]):
            taken = chosen.get(want.identifier)
            if taken is None:
                taken = _extras_of_taken(provider, want, chosen)
                if taken is None:
                    return None
                chosen[want.identifier] = taken
                heapq.heappush(pending, want.identifier)
            elif not provider.is_satisfied_by(want, taken):
                return None
    return chosen


def _extras_of_taken(
    provider: HashAwareProvider, want: Want, chosen: Mapping[str, Candidate]
) -> Candidate | None:
    """A dependency asking extras of a pinned project: the pinned version with those
    extras (the only one its own ``==`` dependency on the plain project allows)."""
    plain = chosen.get(want.key)
    if not want.extras or plain is None or not provider.is_satisfied_by(want, plain):
        return None
    return replace(plain, extras=want.extras)
