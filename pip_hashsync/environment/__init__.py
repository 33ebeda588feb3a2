"""The target environment: the interpreter (probe, cache, venv), what is installed and where it
came from, installing wheels with ``installer`` (from the verified unpacked copy where it
exists), RECORD-based removal, the transaction that commits or rolls back the lot, and the
check that installed files are still what RECORD says. Knows nothing of indexes or pip's
configuration.
"""
