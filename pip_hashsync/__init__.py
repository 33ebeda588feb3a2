"""pip-hashsync: make an environment match a hashed requirements file, byte for byte."""

__version__ = "0.1.0"

#: Our record of the archive a distribution was installed from, inside its ``.dist-info``.
#: Content: ``{"archive": filename, "sha256": hex, "url": url-without-credentials}``.
PROVENANCE_FILE = "pip_hashsync.json"
