"""Index pages kept between runs, with their validators, for conditional requests.

A page is stored with its ``ETag`` and ``Last-Modified``, under the sha256 of its URL
(without credentials) and the ``Accept`` it was asked with, so the next run asks "has it
changed?" (``If-None-Match``, ``If-Modified-Since``) and, on ``304 Not Modified``, reads the
page from here. As pip does for index pages, every use is revalidated: a file uploaded a
minute ago is seen (uv trusts ``max-age`` instead). ``Cache-Control: no-store`` is
honoured, and a page without validators is not kept (it could never be reused).

The files a run parsed from a page are kept too, keyed by the page's digest, its URL, the
project and the versions asked for, so an unchanged 7 MB page costs a small read, not a
parse. Nothing here is trusted: a page or a parse read back is only what an index said,
and the bytes installed are still checked against the allowed hashes (policy 4); a body
whose digest is not the one recorded is treated as absent.

Writes are atomic (temp file + rename) and the folder is trimmed, oldest first, to
:data:`MAX_CACHE_SIZE` at the end of a run that wrote to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The most bytes the page cache keeps (pages and parses); the oldest go first.
MAX_CACHE_SIZE = 512 * 1024 * 1024
#: The response headers kept with a page: what parsing and revalidation need.
_KEPT_HEADERS = ("Content-Type", "ETag", "Last-Modified")


@dataclass(frozen=True)
class StoredPage:
    """A page as a server sent it, read back from the cache."""

    #: The final URL (after redirects), without credentials.
    url: str
    headers: Mapping[str, str]
    content: bytes
    #: sha256 of ``content``, checked when it was read back.
    digest: str

    def validators(self) -> dict[str, str]:
        """The conditional request headers that ask whether this page changed."""
        asked = {"If-None-Match": self.headers.get("ETag")}
        asked["If-Modified-Since"] = self.headers.get("Last-Modified")
        return {name: value for name, value in asked.items() if value}


class PageCache:
    """Pages and their parses under ``root``; safe to share between threads and processes."""

    def __init__(self, root: Path, max_size: int = MAX_CACHE_SIZE) -> None:
        self.root = root
        self.max_size = max_size
        self._wrote = False
        self._lock = threading.Lock()

    def load(self, url: str, accept: str) -> StoredPage | None:
        """The page stored for ``url`` asked with ``accept``; None when there is none, or
        it cannot be read, or its body is not the one recorded."""
        try:
            with open(self._page_path(url, accept), "rb") as file:
                head = json.loads(file.readline())
                content = file.read()
            stored = StoredPage(head["url"], dict(head["headers"]), content, head["digest"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if hashlib.sha256(content).hexdigest() != stored.digest:
            return None
        return stored

    def save(
        self, url: str, accept: str, final_url: str, headers: Mapping[str, str], content: bytes
    ) -> str | None:
        """Store a page the server sent whole (200); its digest, or None when it is not
        kept: ``no-store``, or nothing to revalidate it with."""
        kept = {name: headers[name] for name in _KEPT_HEADERS if headers.get(name)}
        cache_control = headers.get("Cache-Control", "").lower()
        if "no-store" in cache_control or not ({"ETag", "Last-Modified"} & set(kept)):
            return None
        digest = hashlib.sha256(content).hexdigest()
        head = json.dumps({"url": final_url, "headers": kept, "digest": digest})
        self._write(self._page_path(url, accept), head.encode() + b"\n" + content)
        return digest

    def reused(self, url: str, accept: str) -> None:
        """Mark a stored page as used now (a 304), so trimming keeps it longer."""
        with contextlib.suppress(OSError):
            os.utime(self._page_path(url, accept))

    def parsed(self, key: str) -> Any:
        """What :meth:`save_parsed` stored under ``key``, as JSON values; None if nothing."""
        try:
            with open(self._parsed_path(key), "rb") as file:
                return json.loads(file.read())
        except (OSError, ValueError):
            return None

    def save_parsed(self, key: str, value: Any) -> None:
        self._write(self._parsed_path(key), json.dumps(value).encode())

    def trim(self) -> None:
        """Remove the least recently used entries until the cache holds at most
        ``max_size`` bytes; only after a run that wrote something."""
        if not self._wrote:
            return
        entries = []
        for folder, _, names in os.walk(self.root):
            for name in names:
                with contextlib.suppress(OSError):
                    stat = os.stat(os.path.join(folder, name))
                    entries.append((stat.st_mtime, stat.st_size, os.path.join(folder, name)))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_size:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                total -= size
        self._wrote = False

    def _write(self, path: Path, data: bytes) -> None:
        """Atomically: a reader sees the old entry or the new one, never half of one. A
        cache that cannot be written is a cache that is not used, never a failure."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(data)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError:
            return
        with self._lock:
            self._wrote = True

    def _page_path(self, url: str, accept: str) -> Path:
        return self._path("pages", f"{url}\n{accept}")

    def _parsed_path(self, key: str) -> Path:
        return self._path("parsed", key)

    def _path(self, kind: str, key: str) -> Path:
        name = hashlib.sha256(key.encode()).hexdigest()
        return self.root / kind / name[:2] / name
