"""``pins.resolve_pins`` against resolvelib: on the same provider, a forced answer must be
resolvelib's answer, and anything it cannot settle alone must be left to resolvelib.

The provider is the real one, given in-memory index pages and metadata (the end-to-end
paths through a real index are in ``test_sync_plan``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, Resolver

from pip_hashsync.index.candidates import Candidate
from pip_hashsync.index.metadata import Metadata
from pip_hashsync.index.pages import FileLink
from pip_hashsync.resolve.pins import resolve_pins
from pip_hashsync.resolve.provider import (
    HashAwareProvider,
    Policy,
    TargetFacts,
    Want,
)

TAG = Tag("py3", "none", "any")

#: project -> version -> Requires-Dist
Universe = Mapping[str, Mapping[str, Sequence[str]]]

UNIVERSE: Universe = {
    "a": {"1.0": ["b>=1", "c[x]==2.0"], "2.0": ["b>=2"]},
    "b": {"1.0": [], "2.0": ["d; python_version < '3'"]},
    "c": {"2.0": ['e; extra == "x"'], "3.0": []},
    "e": {"1.0": []},
    "f": {"1.0": ["g @ https://example.org/g-1.0-py3-none-any.whl"]},
    "g": {"1.0": []},
}


def _wheel(key: str, version: str) -> FileLink:
    filename = f"{key}-{version}-py3-none-any.whl"
    url = f"https://index.invalid/{filename}"
    return FileLink(filename, url, "index", key, Version(version), tags=frozenset([TAG]))


def _provider(universe: Universe, listed: set[str]) -> HashAwareProvider:
    def files_of(key: str) -> list[FileLink]:
        return [_wheel(key, version) for version in universe.get(key, {})]

    def metadata_of(candidate: Candidate) -> Metadata:
        return Metadata(tuple(universe[candidate.key][str(candidate.version)]))

    return HashAwareProvider(
        files_of=files_of,
        metadata_of=metadata_of,
        target=TargetFacts(
            Version("3.11"),
            {TAG: 0},
            lambda extra: {"python_version": "3.11", "sys_platform": "linux", "extra": extra},
        ),
        policy=Policy(),
        allowed={},
        constraints={},
        closed=True,
        listed=frozenset(listed),
    )


def _want(line: str) -> Want:
    """``name[extras]==version`` as a root."""
    name, _, version = line.partition("==")
    key, _, extras = name.partition("[")
    wanted = frozenset(filter(None, extras.rstrip("]").split(",")))
    return Want(key, wanted, SpecifierSet(f"=={version}"))


def _both(lines: Sequence[str]) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """(resolve_pins, resolvelib) as identifier -> version, None for "no answer"."""
    roots = [_want(line) for line in lines]
    listed = {r.key for r in roots}
    forced_provider = _provider(UNIVERSE, listed)
    best = {
        r.identifier: forced_provider.find_matches(
            r.identifier, {r.identifier: iter([r])}, {r.identifier: iter([])}
        )[0]
        for r in roots
    }
    forced = resolve_pins(forced_provider, roots, best)
    try:
        result = Resolver(_provider(UNIVERSE, listed), BaseReporter()).resolve(roots).mapping
        resolved: dict[str, str] | None = {i: str(c.version) for i, c in result.items()}
    except ResolutionImpossible:
        resolved = None
    return ({i: str(c.version) for i, c in forced.items()} if forced else None), resolved


@pytest.mark.parametrize(
    "lines",
    [
        ["a==1.0", "b==1.0", "c==2.0", "e==1.0"],  # extras asked by a dependency
        ["b==1.0", "e==1.0", "c==2.0", "a==1.0"],  # line order does not matter
        ["a==2.0", "b==2.0"],  # a false marker drops d
        ["c[x]==2.0", "e==1.0"],  # extras on a line pin the project too
        ["e==1.0"],
    ],
)
def test_a_forced_answer_is_resolvelibs(lines: list[str]) -> None:
    forced, resolved = _both(lines)
    assert forced is not None
    assert forced == resolved


@pytest.mark.parametrize(
    "lines",
    [
        ["a==2.0", "b==1.0"],  # a needs b>=2: resolvelib explains the conflict
        ["a==1.0", "b==1.0", "c==3.0", "e==1.0"],  # a needs c==2.0
    ],
)
def test_a_dependency_the_pins_do_not_satisfy_is_left_to_resolvelib(lines: list[str]) -> None:
    forced, resolved = _both(lines)
    assert forced is None
    assert resolved is None


def test_a_url_dependency_is_left_to_resolvelib() -> None:
    forced, resolved = _both(["f==1.0", "g==1.0"])
    assert forced is None
    assert resolved == {"f": "1.0", "g": "1.0"}


def test_a_range_or_two_lines_for_one_project_are_left_to_resolvelib() -> None:
    provider = _provider(UNIVERSE, {"b"})
    best = {"b": provider.find_matches("b", {"b": iter([_want("b==1.0")])}, {"b": iter([])})[0]}
    ranged = Want("b", frozenset(), SpecifierSet(">=1"))
    assert resolve_pins(provider, [ranged], best) is None
    assert resolve_pins(provider, [_want("b==1.0"), _want("b==1.0")], best) is None
    assert resolve_pins(provider, [_want("b==1.0")], best) is not None
