"""The run's effective settings: pip's configuration (command line > ``PIP_*`` > config files),
with ``_pipcompat`` the only door to pip's internals, and the request a command was given.
Hands on Settings and a located target for the stages that do the work.
"""
