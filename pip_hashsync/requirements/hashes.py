"""Digests and allowed-hash sets: which archive bytes a requirement lets in.

A ``--hash`` option names one digest; several on one line are alternatives. A project
named on several lines (or hashed in a constraints file) must satisfy every line, so its
:class:`AllowedHashes` is a conjunction of clauses, one clause per line, each clause a set of
alternatives (design policy 3). The same object decides which files to choose and whether
downloaded bytes pass, so choosing and verifying can never disagree (EC25).
"""

from __future__ import annotations

import functools
import hashlib
import string
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Algorithms ``--hash`` accepts, in pip's order and spelling (EC29, EC30).
STRONG_ALGORITHMS: tuple[str, ...] = ("sha256", "sha384", "sha512")

#: Algorithms an index or URL fragment may use; the weak ones are checked but never trusted
#: on their own (EC34).
FRAGMENT_ALGORITHMS: tuple[str, ...] = ("sha512", "sha384", "sha256", "sha224", "sha1", "md5")

#: Hex length of each algorithm's digest (EC32).
HEX_LENGTHS: Mapping[str, int] = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
}

_HEX_DIGITS = frozenset(string.hexdigits)
_CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class Digest:
    """One ``algorithm:hex`` digest; the hex is stored lower-case (EC31)."""

    algorithm: str
    value: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"

    @property
    def is_strong(self) -> bool:
        """Whether this digest may satisfy hash-checking mode on its own."""
        return self.algorithm in STRONG_ALGORITHMS


class InvalidDigest(ValueError):
    """A digest that cannot be used; ``str()`` says why in words a user can act on."""


def check_hex(algorithm: str, value: str) -> str:
    """Return ``value`` lower-cased, or raise :class:`InvalidDigest` if it cannot be a digest."""
    expected = HEX_LENGTHS[algorithm]
    if not value or not set(value) <= _HEX_DIGITS:
        raise InvalidDigest(
            f"Invalid {algorithm} digest {value!r}: expected only hexadecimal characters"
        )
    if len(value) != expected:
        raise InvalidDigest(
            f"Invalid {algorithm} digest length: expected {expected} hexadecimal characters, "
            f"found {len(value)}"
        )
    return value.lower()


def parse_hash_option(value: str, option: str = "--hash") -> Digest:
    """Parse the value of a ``--hash`` option the way pip does, then validate the digest.

    >>> str(parse_hash_option("sha256:" + "AB" * 32))[:12]
    'sha256:abab…'[:12]
    """
    algorithm, colon, hex_value = value.partition(":")
    if not colon:
        raise InvalidDigest(
            f"Arguments to {option} must be a hash name followed by a value, like "
            f"{option}=sha256:abcde..."
        )
    if algorithm not in STRONG_ALGORITHMS:
        hint = ""
        if algorithm.lower() in STRONG_ALGORITHMS:
            hint = f" (write the name in lower case: {algorithm.lower()})"
        elif algorithm.lower() in HEX_LENGTHS:
            hint = f" ({algorithm} is too weak to protect an install)"
        raise InvalidDigest(
            f"Allowed hash algorithms for {option} are {', '.join(STRONG_ALGORITHMS)}.{hint}"
        )
    return Digest(algorithm, check_hex(algorithm, hex_value))


def url_fragment_digests(url: str) -> tuple[Digest, ...]:
    """The digests written in a URL's fragment (``#sha256=…``, also after ``&``).

    Raises :class:`InvalidDigest` for a malformed value of a known algorithm.
    """
    fragment = urllib.parse.urlsplit(url).fragment
    digests = []
    for key, value in urllib.parse.parse_qsl(fragment, keep_blank_values=True):
        if key in HEX_LENGTHS:
            digests.append(Digest(key, check_hex(key, value)))
    return tuple(digests)


@dataclass(frozen=True)
class AllowedHashes:
    """The archives one project may be installed from.

    ``clauses`` is a conjunction: an archive is allowed when, for every clause, one of the
    clause's digests equals the archive's digest of that algorithm. One line's ``--hash``
    options form one clause. Two clauses of one and the same algorithm are intersected as
    soon as they meet, so a contradiction shows as an empty clause (EC25, EC27); clauses of
    different algorithms stay apart, because only the downloaded bytes can tell whether a
    sha256 and a sha512 name the same file (EC36).
    """

    clauses: tuple[frozenset[Digest], ...] = ()

    def narrowed(self, digests: Iterable[Digest]) -> AllowedHashes:
        """This set further restricted to ``digests`` (alternatives); no-op when empty."""
        clause = frozenset(digests)
        if not clause:
            return self
        algorithms = {d.algorithm for d in clause}
        merged: list[frozenset[Digest]] = []
        for existing in self.clauses:
            if len(algorithms) == 1 and {d.algorithm for d in existing} == algorithms:
                clause = clause & existing
            else:
                merged.append(existing)
        return AllowedHashes((*merged, clause))

    def __bool__(self) -> bool:
        return bool(self.clauses)

    @property
    def contradictory(self) -> bool:
        """True when no archive can ever be allowed (an intersection came out empty)."""
        return any(not clause for clause in self.clauses)

    @functools.cached_property
    def algorithms(self) -> frozenset[str]:
        """Every algorithm a download must be hashed with to be judged (asked for each file
        and each cached archive: computed once, as a lock line may list 100,000 digests)."""
        return frozenset(d.algorithm for clause in self.clauses for d in clause)

    def allows(self, digests: Mapping[str, str]) -> bool:
        """Whether an archive with these ``{algorithm: hex}`` digests is allowed; looked up,
        not searched, so its cost does not grow with the number of digests allowed."""
        return bool(self.clauses) and all(
            any(Digest(name, value.lower()) in clause for name, value in digests.items())
            for clause in self.clauses
        )

    def digests(self) -> list[Digest]:
        """Every digest named by any clause, sorted (for display)."""
        return sorted({d for clause in self.clauses for d in clause})


def file_digests(path: str, algorithms: Iterable[str]) -> dict[str, str]:
    """Hash a file with every algorithm in one read (EC36)."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}
