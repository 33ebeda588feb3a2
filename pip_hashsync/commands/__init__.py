"""One module per sub-command, each wiring the stages below into what the user asked for:
``sync`` (with its no-op ``fastpath`` and ``receipt``), ``hashes``, ``lint`` and ``verify``.
The command line in :mod:`pip_hashsync.cli` only parses arguments and renders results.
"""
