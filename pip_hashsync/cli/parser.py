"""The sub-commands and their options: pip's names where pip has the option.

Every option has a help line. A command line the parser refuses exits 2, and a mistyped
name (option, sub-command, choice) is answered with the nearest real one, as uv does.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from pip_hashsync import DEFAULT_LINK_MODE, LINK_MODE_VARIABLE, LINK_MODES, LinkMode, __version__


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line. Unknown options are refused with the sub-command's usage
    and, for each, the nearest option that sub-command has ("did you mean --venv?")."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = parser.commands[args.command]
        names = [name for action in command._actions for name in action.option_strings]
        command.error(f"unrecognized arguments: {' '.join(_with_nearest(unknown, names))}")
    return args


def _with_nearest(words: Iterable[str], names: Sequence[str]) -> Iterator[str]:
    """Each word, an option-like one followed by the nearest of ``names`` when one is near."""
    for word in words:
        nearest = _nearest(word.split("=", 1)[0], names) if word.startswith("-") else None
        yield f"{word} (did you mean {nearest}?)" if nearest else word


def _nearest(word: str, names: Iterable[str]) -> str | None:
    import difflib  # only for a command line that is refused: not on the no-op path

    matches = difflib.get_close_matches(word, list(names), n=1)
    return matches[0] if matches else None


class _Parser(argparse.ArgumentParser):
    """argparse's parser that names the nearest allowed value for a mistyped sub-command
    or choice (what Python 3.14's ``suggest_on_error`` does, for the Pythons before it)."""

    #: The sub-commands' parsers by name (the top-level parser's only).
    commands: dict[str, _Parser]

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as error:
            nearest = _nearest(str(value), map(str, action.choices or ()))
            if nearest is None:
                raise
            raise argparse.ArgumentError(
                action, f"{error.message}: did you mean {nearest!r}?"
            ) from None


def build_parser() -> _Parser:
    parser = _Parser(
        prog="pip-hashsync",
        description="Make a Python environment match a hashed requirements file, exactly.",
    )
    parser.add_argument("--version", action="version", version=f"pip-hashsync {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True,
        help="what to do (COMMAND --help says more)",
    )  # fmt: skip
    parser.commands = commands.choices

    lint = commands.add_parser(
        "lint",
        help="check requirements files offline (syntax and hash-mode rules)",
        description="Check requirements files without touching the network: pip's syntax, "
        "and in hash-checking mode that every line is pinned and hashed. Markers are not "
        "evaluated, so every line is checked. Exit 0 when valid, 2 with the problems.",
    )
    _add_file_arguments(lint)
    lint.add_argument(
        "--each", action="store_true",
        help="check each file on its own (with what it includes), as for locks never installed "
        "together: one per Python, or a hashed lock beside an unhashed one (pre-commit passes "
        "every matching file to one run)",
    )  # fmt: skip
    _add_lock_options(lint)
    _add_hash_mode_options(lint)
    _add_format_option(lint)

    sync = commands.add_parser(
        "sync",
        help="make an environment match requirements files exactly",
        description="Make the target environment match the requirements files exactly: "
        "install what is missing, change what differs, remove what is not listed. In "
        "hash-checking mode every byte installed must match a --hash of the files.",
    )
    _add_file_arguments(sync)
    _add_lock_options(sync)
    sync.add_argument(
        "--dry-run", action="store_true",
        help="print the plan (what would be installed, from which file, and why) and change "
        "nothing",
    )  # fmt: skip
    _add_format_option(sync)
    sync.add_argument(
        "--check", action="store_true",
        help="exit 1 and list the changes a sync would make, without making them",
    )  # fmt: skip
    _add_apply_options(sync)
    target = sync.add_argument_group("target")
    _add_target_options(
        target, "sync", "never remove this project (adds to pip, pip-hashsync, setuptools, wheel)"
    )
    target.add_argument(
        "--trust-installed", action="store_true",
        help="accept installed distributions of the right version without a recorded hash",
    )  # fmt: skip
    target.add_argument(
        "--allow-empty", action="store_true",
        help="allow a sync that removes everything when no requirement applies",
    )  # fmt: skip
    _add_hash_mode_options(sync)
    _add_build_options(sync)
    _add_pip_options(sync)

    install = commands.add_parser(
        "install",
        help="install requirements like pip install, in hash-checking mode; never removes",
        description="Install requirements the way pip install does (resolving dependencies "
        "outside hash-checking mode), with the same hash checking, cache and transaction as "
        "sync. Nothing is ever removed. tox and scripts use it.",
    )
    install.add_argument(
        "requirements", nargs="*", metavar="REQUIREMENT",
        help="a requirement as pip takes it: NAME[==VERSION], a URL or a local path",
    )  # fmt: skip
    install.add_argument(
        "-e", "--editable", action="append", default=[], metavar="PATH_OR_URL", dest="editables",
        help="install a local project folder (or a git URL) in editable mode (PEP 660)",
    )  # fmt: skip
    install.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", dest="files",
        help="requirements file (may be repeated)",
    )  # fmt: skip
    install.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="constraints file (may be repeated)",
    )  # fmt: skip
    _add_lock_options(install)
    install.add_argument("--no-deps", action="store_true", help="do not install dependencies")
    install.add_argument(
        "-U", "--upgrade", action="store_true", help="upgrade to the best allowed versions"
    )
    install.add_argument(
        "--force-reinstall", action="store_true", help="reinstall even if already satisfied"
    )
    install.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    _add_format_option(install)
    _add_apply_options(install)
    install.add_argument("--python", metavar="PATH", help="interpreter of the target environment")
    install.add_argument("--venv", metavar="DIR", help="virtual environment to install into")
    _add_hash_mode_options(install)
    _add_build_options(install)
    _add_pip_options(install)
    install.set_defaults(keep=[], trust_installed=False, allow_empty=False)

    hashes = commands.add_parser(
        "hashes",
        help="write the hashes of every file of each pinned version, for every platform",
        description="Replace the --hash options of every pinned line with the hashes of every "
        "file of that version on the configured indexes (all platforms unless filtered), "
        "keeping the file's layout and comments. NAME==VERSION arguments add or update lines.",
    )
    hashes.add_argument(
        "targets", nargs="*", metavar="FILE|NAME==VERSION",
        help="requirements file to rewrite, or a pin to add to it (or to print, without a file)",
    )  # fmt: skip
    hashes.add_argument(
        "--algorithm", choices=("sha256", "sha384", "sha512"), default="sha256",
        help="hash algorithm (default sha256); others are computed by download if not advertised",
    )  # fmt: skip
    hashes.add_argument(
        "--check", action="store_true",
        help="exit 1 if any pinned line lacks a hash or lists a stale one",
    )  # fmt: skip
    hashes.add_argument("--dry-run", action="store_true", help="print a diff, change nothing")
    hashes.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE")
    hashes.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    hashes.add_argument(
        "--include-constraints", action="store_true", help="also hash pinned lines of -c files"
    )
    filters = hashes.add_argument_group("filters (default: every file of the version)")
    filters.add_argument(
        "--python-version", action="append", default=[], metavar="X.Y",
        help="keep the wheels this Python version can install (may be repeated)",
    )  # fmt: skip
    filters.add_argument(
        "--platform", action="append", default=[], metavar="TAG",
        help="keep the wheels for this platform tag, e.g. manylinux_2_28_x86_64, and pure "
        "ones (may be repeated)",
    )  # fmt: skip
    filters.add_argument(
        "--implementation", metavar="cp|pp|py",
        help="keep the wheels for this Python implementation and generic ones",
    )  # fmt: skip
    filters.add_argument(
        "--abi", metavar="ABI",
        help="keep the wheels for this ABI tag, e.g. cp312, and those with none or abi3",
    )  # fmt: skip
    filters.add_argument("--no-sdist", action="store_true", help="leave the sdist out")
    _add_pip_options(hashes)

    verify = commands.add_parser(
        "verify",
        help="check an installed environment against its RECORD files and requirements",
        description="Check every installed file against the hash in its distribution's RECORD "
        "(changed, missing, and unrecorded files in the distribution's folders), "
        "distributions without RECORD or without pip-hashsync's record of their archive, and "
        "a run left unfinished; with -r, also that each listed distribution came from an "
        "archive the files allow and that nothing unlisted is installed. Reads the "
        "environment only: no network, no change. Exit 0 when clean, 1 with findings, 2 for "
        "bad input.",
    )
    verify.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", dest="files",
        help="requirements file to check the installed set against (may be repeated)",
    )  # fmt: skip
    _add_lock_options(verify)
    _add_target_options(
        verify,
        "verify",
        "a project sync --keep leaves alone: not unlisted, needs no provenance unless listed",
    )
    _add_format_option(verify)
    return parser


class _PipOption(NamedTuple):
    names: tuple[str, ...]
    action: str
    help: str
    metavar: str | None = None


_NAMES = ":all:, :none: or project names with commas between them; may be repeated"

#: pip's options (names and meaning as in pip) that the index, the network and file choice
#: use; their values are checked with pip's configuration, where they may also be set.
_PIP_OPTIONS = (
    _PipOption(
        ("-i", "--index-url"), "store", "base URL of the package index (PEP 503 or 691), or a "
        "local folder laid out the same way (default: https://pypi.org/simple)", "URL",
    ),
    _PipOption(
        ("--extra-index-url",), "append", "another index read besides --index-url; the files "
        "of all indexes are pooled (may be repeated)", "URL",
    ),
    _PipOption(
        ("--no-index",), "store_true", "read no index, only the --find-links locations"
    ),
    _PipOption(
        ("-f", "--find-links"), "append", "a folder of archives, or an HTML page or URL "
        "whose links are archives, looked in besides the indexes (may be repeated)", "URL|DIR",
    ),
    _PipOption(
        ("--trusted-host",), "append", "a host (or host:port) whose TLS certificate is not "
        "verified (may be repeated)", "HOST",
    ),
    _PipOption(
        ("--only-binary",), "append", f"never build from an sdist for these projects: {_NAMES}",
        "NAMES",
    ),
    _PipOption(
        ("--no-binary",), "append", f"never use a wheel for these projects: {_NAMES}", "NAMES"
    ),
    _PipOption(
        ("--prefer-binary",), "store_true",
        "prefer an older version with a wheel to a newer one with only an sdist",
    ),
    _PipOption(("--pre",), "store_true", "also consider pre-release and development versions"),
    _PipOption(
        ("--all-releases",), "append", f"allow pre-releases for these projects: {_NAMES}",
        "NAMES",
    ),
    _PipOption(
        ("--only-final",), "append", f"allow only final releases for these projects: {_NAMES}",
        "NAMES",
    ),
    _PipOption(
        ("--cert",), "store", "CA bundle (PEM) to check servers' certificates with, instead "
        "of the system's trust store", "PATH",
    ),
    _PipOption(
        ("--client-cert",), "store", "client certificate for TLS: one PEM file holding the "
        "private key and the certificate", "PATH",
    ),
    _PipOption(
        ("--timeout", "--default-timeout"), "store", "socket timeout in seconds (default: 15)",
        "SECONDS",
    ),
    _PipOption(
        ("--retries",), "store", "how many times a failed connection is retried (default: 5)",
        "N",
    ),
    _PipOption(
        ("--proxy",), "store", "proxy for every request, e.g. http://proxy.example:3128 "
        "(default: the environment's proxy variables)", "URL",
    ),
    _PipOption(
        ("--keyring-provider",), "store", "how credentials are asked of keyring after a 401: "
        "auto, disabled, import or subprocess (default: auto, only when input is allowed)",
        "PROVIDER",
    ),
    _PipOption(
        ("--no-input",), "store_true", "never prompt (keyring's auto provider is not asked)"
    ),
    _PipOption(
        ("--cache-dir",), "store", "pip-hashsync's cache of archives and wheels (default: "
        "~/.cache/pip-hashsync; a cache-dir set in pip's configuration gets a pip-hashsync "
        "folder inside it)", "DIR",
    ),
    _PipOption(
        ("--isolated",), "store_true",
        "ignore PIP_* variables and the user's pip configuration files",
    ),
)  # fmt: skip


def _add_pip_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pip options (as in pip and its configuration)")
    for option in _PIP_OPTIONS:
        takes_value: dict[str, Any] = {"metavar": option.metavar} if option.metavar else {}
        group.add_argument(
            *option.names, action=option.action, default=None, help=option.help, **takes_value
        )


#: pip options defined with each command's own options (their help is the command's).
_PIP_SWITCHES = (
    "--require-hashes",
    "--no-require-hashes",
    "--no-cache-dir",
    "--break-system-packages",
    "--build-constraint",
    "--config-settings",
)


def pip_options(args: argparse.Namespace) -> dict[str, object]:
    """The pip options the user gave, keyed by pip's long option name."""
    long_names = [next(n for n in o.names if n.startswith("--")) for o in _PIP_OPTIONS]
    given: dict[str, object] = {}
    for name in [*long_names, *_PIP_SWITCHES]:
        value = getattr(args, name[2:].replace("-", "_"), None)
        if value not in (None, False, []):
            given[name[2:]] = value
    return given


def _add_target_options(parser: argparse._ActionsContainer, verb: str, keep_help: str) -> None:
    """``--python``, ``--venv`` and ``--keep`` of the commands that look at one environment."""
    parser.add_argument("--python", metavar="PATH", help="interpreter of the target environment")
    parser.add_argument("--venv", metavar="DIR", help=f"virtual environment to {verb}")
    parser.add_argument("--keep", action="append", default=[], metavar="NAME", help=keep_help)


def _add_file_arguments(parser: argparse.ArgumentParser) -> None:
    """The requirements files, as arguments or ``-r`` options (as pip-sync and uv take
    them), and the constraints files; see :func:`pip_hashsync.cli.runs.given_files`."""
    parser.add_argument("files", nargs="*", metavar="FILE", help="requirements file(s)")
    parser.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE",
        dest="requirement_files", help="requirements file (may be repeated)",
    )  # fmt: skip
    parser.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="constraints file (may be repeated)",
    )  # fmt: skip


def _add_lock_options(parser: argparse.ArgumentParser) -> None:
    """What to install from a pylock.toml (PEP 751), spelled as uv spells it."""
    parser.add_argument(
        "--extra", action="append", default=[], metavar="EXTRA", dest="extras",
        help="install this extra of a pylock.toml (may be repeated)",
    )  # fmt: skip
    parser.add_argument(
        "--group", action="append", default=None, metavar="GROUP", dest="groups",
        help="install this dependency group of a pylock.toml instead of its default groups "
        "(may be repeated)",
    )  # fmt: skip


def _add_apply_options(parser: argparse.ArgumentParser) -> None:
    """Options of every command that changes an environment."""
    parser.add_argument(
        "--offline", action="store_true",
        help="use only archives already in the cache; fail if one is missing",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache", "--no-cache-dir", action="store_true", dest="no_cache_dir",
        help="do not read or write the archive cache (also pip's no-cache-dir setting)",
    )  # fmt: skip
    parser.add_argument(
        "--compile", action="store_true",
        help="compile installed .py files to bytecode, with the target's interpreter",
    )  # fmt: skip
    parser.add_argument(
        "--link-mode", type=_link_mode,
        default=os.environ.get(LINK_MODE_VARIABLE) or DEFAULT_LINK_MODE,
        metavar="{copy,clone,hardlink}",
        help="how files come out of the cache of unpacked wheels: clone (copy-on-write where "
        "the filesystem can, else a copy; the default), copy, or hardlink (fastest, but an "
        "edit in the environment edits the cache: the next install notices and re-makes it); "
        f"also {LINK_MODE_VARIABLE}",
    )  # fmt: skip
    parser.add_argument(
        "--break-system-packages", action="store_true",
        help="allow changing an externally managed (PEP 668) environment (also pip's setting)",
    )  # fmt: skip
    parser.add_argument(
        "-q", "--quiet", action="store_const", const=-1, dest="verbose", default=0,
        help="print less: no progress, warnings or per-distribution lines (errors still)",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="store_const", const=1, dest="verbose",
        help="also list what stays unchanged, and say each network retry as it happens",
    )  # fmt: skip


def _add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="text for people, or one JSON object on stdout for programs (default: text)",
    )  # fmt: skip


def _add_hash_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-hashes", action="store_true",
        help="require a hash for every requirement (also switched on by any --hash)",
    )  # fmt: skip
    parser.add_argument(
        "--no-require-hashes", action="store_true",
        help="do not switch hash-checking mode on; verify only the hashes that are given",
    )  # fmt: skip


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    """How sdists are built, and what their build dependencies must be."""
    group = parser.add_argument_group("building sdists")
    group.add_argument(
        "--build-constraint", action="append", default=[], metavar="FILE",
        help="constraints file pinning build dependencies, with --hash in hash-checking mode "
        "(may be repeated; adds to pip's build-constraint setting and PIP_BUILD_CONSTRAINT)",
    )  # fmt: skip
    group.add_argument(
        "--build-hashes", choices=("require", "verify"), default="require",
        help="require: every build dependency must be pinned and hashed by a build "
        "constraint or a line of the requirements files (default); verify: check the hashes "
        "given and build with the other dependencies unchecked, as pip and uv do",
    )  # fmt: skip
    group.add_argument(
        "--no-build", action="store_true",
        help="never build an sdist: fail when only an sdist matches (like --only-binary :all:)",
    )  # fmt: skip
    group.add_argument(
        "-C", "--config-settings", action="append", default=[], metavar="KEY=VALUE",
        type=_config_setting,
        help="setting passed to every build backend (may be repeated; a key given again "
        "passes a list), as in pip",
    )  # fmt: skip


def _link_mode(text: str) -> LinkMode:
    """A link mode from the option or :data:`LINK_MODE_VARIABLE`; argparse checks neither a
    default nor an environment's value against ``choices``, so it is checked here."""
    for mode in LINK_MODES:
        if text == mode:
            return mode
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a link mode (also read from {LINK_MODE_VARIABLE}); "
        f"choose one of {', '.join(LINK_MODES)}"
    )


def _config_setting(text: str) -> str:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: must be of the form KEY=VALUE")
    return text
