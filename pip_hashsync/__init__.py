"""pip-hashsync: make an environment match a hashed requirements file, byte for byte."""

from typing import Literal, get_args

__version__ = "0.1.0"

#: Our record of the archive a distribution was installed from, inside its ``.dist-info``.
#: Content: ``{"archive": filename, "sha256": hex, "url": url-without-credentials}``.
PROVENANCE_FILE = "pip_hashsync.json"

#: pip-hashsync's own files in an environment's prefix: the lock, the transaction's folder
#: (journal and stash) and the receipt of the last no-op. Every name starts with
#: :data:`BOOKKEEPING`, and no archive member is ever written under one (policy 12).
BOOKKEEPING = ".pip-hashsync"
LOCK_FILE = f"{BOOKKEEPING}.lock"
WORK_DIR = f"{BOOKKEEPING}-txn"
RECEIPT_FILE = f"{BOOKKEEPING}-receipt.json"

#: How installed files come out of the cache of unpacked wheels (``--link-mode``, uv's names;
#: see :mod:`pip_hashsync.environment.unpacked`). Here, not there: the parser needs them, and
#: must not import the installer.
LinkMode = Literal["copy", "clone", "hardlink"]
LINK_MODES: tuple[LinkMode, ...] = get_args(LinkMode)
#: Safe: a clone shares no bytes an edit could reach, and is a copy where it cannot be made.
DEFAULT_LINK_MODE: LinkMode = "clone"
LINK_MODE_VARIABLE = "PIP_HASHSYNC_LINK_MODE"
