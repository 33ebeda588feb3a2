"""What the index offers for one version of a project: the unit the resolver chooses among
and the metadata reader reads, so both stages share it from here."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from pip_hashsync.index.pages import FileLink


@dataclass(frozen=True)
class Candidate:
    """One version of a project, with the files it may come from, best first.

    An extras candidate (``extras`` non-empty) stands for the same version with those extras:
    it depends on the plain candidate, so extras requested later still add their
    dependencies, and shares its files.
    """

    key: str
    name: str
    version: Version
    files: tuple[FileLink, ...]
    extras: frozenset[str] = frozenset()
    url: str | None = None

    @property
    def identifier(self) -> str:
        return identifier_of(self.key, self.extras)

    def describe(self) -> str:
        return f"{identifier_of(self.name, self.extras)}=={self.version}"


def identifier_of(key: str, extras: frozenset[str]) -> str:
    """The resolver's name for a project with extras: ``name[a,b]`` (sorted), or the name."""
    return f"{key}[{','.join(sorted(extras))}]" if extras else key
