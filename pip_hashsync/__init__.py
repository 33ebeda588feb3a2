"""pip-hashsync: make an environment match a hashed requirements file, byte for byte."""

__version__ = "0.1.0"
