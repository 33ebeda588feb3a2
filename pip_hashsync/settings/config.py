"""Effective settings: pip's configuration files, ``PIP_*`` variables and the command line.

pip-hashsync reads the configuration pip would read, with pip's precedence, so a user's
``pip.conf`` (a private index, find-links, a CA bundle) works without being repeated.
Precedence, lowest first, as pip's ``ConfigOptionParser`` applies it:

1. ``[global]`` of every file, in load order (global, user, site, ``PIP_CONFIG_FILE``);
2. ``[install]`` of every file, in load order — so ``[install]`` in ``/etc/pip.conf``
   beats ``[global]`` in the user's file, exactly as in pip;
3. ``PIP_*`` variables (unless ``--isolated``);
4. the command line, whose list options (``--extra-index-url``, ``-f``, …) *add to* the
   configured lists, as pip's do.

Options written in requirements files are applied last, with their own pip rules
(:func:`load_settings`). An empty value in a file or a variable counts as unset (pip drops
it too). The files are read with :mod:`configparser`; only their locations may come from
pip (:mod:`pip_hashsync.settings._pipcompat`).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from pip_hashsync.errors import COMMAND_LINE, InputError
from pip_hashsync.requirements.reader import FileOptions, apply_name_set
from pip_hashsync.settings import _pipcompat
from pip_hashsync.urls import redact

DEFAULT_INDEX_URL = "https://pypi.org/simple"
KEYRING_PROVIDERS = ("auto", "disabled", "import", "subprocess")

#: The section pip-hashsync reads after ``[global]``: its commands are install-like.
COMMAND_SECTION = "install"

#: The ``sources`` of options given in requirements files (:data:`COMMAND_LINE` for the
#: command line's).
FILE_SOURCE = "requirements file"


@dataclass(frozen=True)
class Settings:
    """The settings a run uses, after every source is merged; the defaults are pip's.

    ``sources`` maps a pip option name (``"index-url"``, ``"timeout"``, …) to where its
    value came from (``"command line"``, ``"PIP_INDEX_URL"``, ``"/etc/pip.conf [global]"``,
    ``"requirements file"``; several, comma-separated, when a list was extended), for
    verbose output.
    """

    #: The indexes to search, pooled; empty with ``no_index``.
    index_urls: tuple[str, ...] = (DEFAULT_INDEX_URL,)
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    client_cert: str | None = None
    timeout: float = 15.0
    retries: int = 5
    #: None: use the environment's proxies; ``""``: no proxy at all.
    proxy: str | None = None
    no_input: bool = False
    keyring_provider: str = "auto"
    pre: bool = False
    prefer_binary: bool = False
    #: Canonical project names, or ``":all:"``.
    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()
    all_releases: frozenset[str] = frozenset()
    only_final: frozenset[str] = frozenset()
    require_hashes: bool = False
    no_require_hashes: bool = False
    #: None: not configured, use the default cache location.
    cache_dir: str | None = None
    no_cache: bool = False
    break_system_packages: bool = False
    constraints: tuple[str, ...] = ()
    build_constraints: tuple[str, ...] = ()
    #: ``-C KEY=VALUE`` pairs for build backends, in the order given: pip accumulates them
    #: over the files, the variable and the command line (see :func:`backend_config_settings`).
    config_settings: tuple[tuple[str, str], ...] = ()
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Every configuration file consulted, in load order, whether it exists or not.
    config_files: tuple[str, ...] = ()


def load_settings(
    cli: Mapping[str, Any],
    file_options: FileOptions | None,
    *,
    environ: Mapping[str, str] = os.environ,
    site_prefix: str | None = sys.prefix,
    isolated: bool = False,
) -> tuple[Settings, list[str]]:
    """Merge every source into :class:`Settings`; return them with warnings to show.

    ``cli`` holds the options the user gave, keyed by pip's long option name
    (``"index-url"``, ``"extra-index-url"``, ``"no-index"``, …); absent, None or False
    means "not given" (a command-line flag can only switch a setting on, as in pip), and
    keys that are not configuration options are ignored, so a caller may pass all its
    options. List options take a string or a list of strings. ``site_prefix`` is the
    target's ``sys.prefix`` (its ``pip.conf`` is the site file; None while the target is
    not known). ``file_options`` (from the requirements files) are applied on top, the
    way pip applies an option line; a caller that needs the configured constraint files
    before it can read the requirements applies them later with :func:`with_file_options`.

    Raises :class:`InputError` (exit 2) for an unreadable file or an invalid value, naming
    the file or variable and the value; settings pip-hashsync does not support
    (``--user``, ``--target``, …) give a warning instead of being ignored silently.
    """
    merged = _Merged()
    files = _pipcompat.config_files(site_prefix, environ=environ, isolated=isolated)
    merged.warnings.extend(_missing_config_file(environ))
    for key, value, source in _configured(files, environ, isolated):
        merged.configure(key, value, source)
    for key, value in cli.items():
        merged.give(key, value)
    if merged.errors:
        raise InputError("\n".join(merged.errors))
    settings = replace(merged.settings(), config_files=tuple(path for _, path in files))
    if file_options is not None:
        settings = with_file_options(settings, file_options)
    return settings, merged.warnings


# ---------------------------------------------------------------------------------------
# Reading the configuration


def _configured(
    files: list[tuple[str, str]], environ: Mapping[str, str], isolated: bool
) -> Iterator[tuple[str, str, str]]:
    """``(option, value, source)`` from files and variables, lowest precedence first.

    Like pip, each section is pooled over all files first (a later file's value replaces
    an earlier one, keeping its position), and empty values are dropped after pooling, so
    an empty value in a later file unsets the option.
    """
    pooled: dict[str, dict[str, tuple[str, str]]] = {"global": {}, COMMAND_SECTION: {}}
    for _kind, path in files:
        for section, key, value in _read_config_file(path):
            if section in pooled:
                pooled[section][key] = (value, f"{path} [{section}]")
    for options in pooled.values():
        yield from ((key, value, source) for key, (value, source) in options.items() if value)
    if not isolated:
        for name, value in environ.items():
            if name.startswith("PIP_") and value:
                key = _normalize(name[4:])
                if key not in ("version", "help"):
                    yield key, value, name


def _normalize(name: str) -> str:
    """``EXTRA_INDEX_URL``, ``--extra-index-url`` and ``extra_index_url`` are one option."""
    return name.lower().replace("_", "-").removeprefix("--")


def _read_config_file(path: str) -> Iterator[tuple[str, str, str]]:
    """``(section, option, value)`` of one file; nothing if it does not exist."""
    if not os.path.exists(path):
        return
    import configparser  # only when there is a file: most machines have none

    class PipConfigParser(configparser.RawConfigParser):
        """pip's parser: option names normalised as pip does, no interpolation."""

        def optionxform(self, optionstr: str) -> str:
            return _normalize(optionstr)

    encoding = "utf-8" if sys.flags.utf8_mode else _locale_encoding()
    parser = PipConfigParser()
    try:
        parser.read(path, encoding=encoding)
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: pip configuration file contains invalid {encoding} characters"
        ) from error
    except configparser.Error as error:
        raise InputError(f"{path}: not a valid pip configuration file: {error}") from error
    for section in parser.sections():
        for key, value in parser.items(section):
            yield section, key, value


def _locale_encoding() -> str:
    """The encoding pip reads configuration files with outside UTF-8 mode."""
    import locale

    getencoding: Callable[[], str] | None = getattr(locale, "getencoding", None)  # 3.11+
    return getencoding() if getencoding else locale.getpreferredencoding(False)


def _missing_config_file(environ: Mapping[str, str]) -> list[str]:
    """A warning when ``PIP_CONFIG_FILE`` names no file (pip says nothing)."""
    path = environ.get("PIP_CONFIG_FILE")
    if not path or path == os.devnull or os.path.exists(path):
        return []
    return [f"PIP_CONFIG_FILE={path}: no such file; no configuration is read from it"]


# ---------------------------------------------------------------------------------------
# Options and their values


class _InvalidValue(ValueError):
    """A value that the option does not accept; the text says what it accepts."""


_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


def _boolean(text: str) -> bool:
    """pip's ``strtobool``."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _InvalidValue("expected a boolean like yes/no, true/false or 1/0")


def _timeout(text: str) -> str:
    try:
        seconds = float(text)
    except ValueError:
        raise _InvalidValue("expected a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise _InvalidValue("expected a positive number of seconds")
    return text


def _retries(text: str) -> str:
    try:
        count = int(text)
    except ValueError:
        raise _InvalidValue("expected a whole number") from None
    if count < 0:
        raise _InvalidValue("expected a whole number, 0 or more")
    return text


def _keyring_provider(text: str) -> str:
    if text not in KEYRING_PROVIDERS:
        raise _InvalidValue(f"expected one of {', '.join(KEYRING_PROVIDERS)}")
    return text


def _absolute_path(text: str) -> str:
    """A folder made absolute once, as pip does: later steps compare paths inside it with
    absolute ones, and a relative one would name another folder after a change of folder."""
    return os.path.abspath(os.path.expanduser(text))


#: Options that hold one value, with the check (and, for paths, the expansion) pip applies.
_SCALARS: dict[str, Callable[[str], str]] = {
    "index-url": str,
    "proxy": str,
    "cert": os.path.expanduser,
    "client-cert": os.path.expanduser,
    "cache-dir": _absolute_path,
    "timeout": _timeout,
    "retries": _retries,
    "keyring-provider": _keyring_provider,
}
_FLAGS = frozenset(
    {
        "no-index",
        "no-input",
        "no-proxy-env",
        "pre",
        "prefer-binary",
        "require-hashes",
        "no-require-hashes",
        "break-system-packages",
    }
)
#: Options that may be given several times; whitespace-separated in files and variables.
_LISTS = frozenset(
    {"extra-index-url", "find-links", "trusted-host", "constraint", "build-constraint"}
)
#: ``KEY=VALUE`` options: every source adds to the pairs (pip's callback option, one pair a
#: value: files and variables are not split).
_PAIRS = frozenset({"config-settings"})
#: Paired name-set options (``:all:``/``:none:``/names) and the option each one excludes.
_NAME_SETS = {
    "only-binary": "no-binary",
    "no-binary": "only-binary",
    "all-releases": "only-final",
    "only-final": "all-releases",
}
#: pip's other long names for the same options.
_ALIASES = {
    "pypi-url": "index-url",
    "default-timeout": "timeout",
    "source": "src",
    "source-dir": "src",
    "source-directory": "src",
}
#: pip install options that choose where to install; pip-hashsync syncs one environment.
_UNSUPPORTED = frozenset({"user", "target", "prefix", "root", "src", "use-deprecated"})


class _Merged:
    """Values as pip's option parser holds them while sources are applied in order."""

    def __init__(self) -> None:
        self.scalars: dict[str, str] = {}
        self.flags: dict[str, bool] = {}
        self.lists: dict[str, list[str]] = {}
        self.names: dict[str, set[str]] = {name: set() for name in _NAME_SETS}
        self.pairs: dict[str, list[tuple[str, str]]] = {}
        self.sources: dict[str, str] = {}
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def configure(self, key: str, value: str, source: str) -> None:
        """Apply a value from a file or a variable: it replaces what came before."""
        option = _ALIASES.get(key, key)
        try:
            if option in _UNSUPPORTED:
                if option != "user" or value.lower() not in _FALSE:
                    self._unsupported(option, source)
            elif option == "no-cache-dir":
                _boolean(value)  # pip checks the value, then disables the cache whatever it is
                self._disable_cache(source)
            elif option in _FLAGS:
                self._set_flag(option, _boolean(value), source)
            elif option in _LISTS:
                self.lists[option] = value.split()
                self.sources[option] = source
            elif option in _PAIRS:
                self._add_pair(option, value, source)
            elif option in _NAME_SETS:
                self._add_names(option, value, source)
            elif option in _SCALARS:
                self._set_scalar(option, _SCALARS[option](value), source)
        except _InvalidValue as error:
            self.errors.append(f"{source}: invalid value {value!r} for {key}: {error}")

    def give(self, key: str, value: Any) -> None:
        """Apply an option from the command line: list options extend the configured lists."""
        option = _ALIASES.get(key, key)
        if value is None or value is False:
            return
        try:
            if option in _UNSUPPORTED:
                self._unsupported(option, COMMAND_LINE)
            elif option == "no-cache-dir":
                self._disable_cache(COMMAND_LINE)
            elif option in _FLAGS:
                self._set_flag(option, True, COMMAND_LINE)
            elif option in _LISTS and _strings(value):
                self.lists.setdefault(option, []).extend(_strings(value))
                self.sources[option] = _joined(self.sources.get(option), COMMAND_LINE)
            elif option in _PAIRS:
                for text in _strings(value):
                    self._add_pair(option, text, COMMAND_LINE)
            elif option in _NAME_SETS:
                for text in _strings(value):
                    self._add_names(option, text, COMMAND_LINE)
            elif option in _SCALARS:
                self._set_scalar(option, _SCALARS[option](str(value)), COMMAND_LINE)
        except _InvalidValue as error:
            self.errors.append(f"{COMMAND_LINE}: invalid value {value!r} for --{key}: {error}")

    def _set_scalar(self, option: str, value: str, source: str) -> None:
        self.scalars[option] = value
        self.sources[option] = source
        if option == "cache-dir":  # one setting in pip: the later of the two wins
            self.flags.pop("no-cache-dir", None)
            self.sources.pop("no-cache-dir", None)

    def _set_flag(self, option: str, value: bool, source: str) -> None:
        self.flags[option] = value
        self.sources[option] = source

    def _disable_cache(self, source: str) -> None:
        self.scalars.pop("cache-dir", None)
        self.sources.pop("cache-dir", None)
        self._set_flag("no-cache-dir", True, source)

    def _add_pair(self, option: str, value: str, source: str) -> None:
        key, equals, text = value.partition("=")
        if not equals:
            raise _InvalidValue("expected KEY=VALUE")
        self.pairs.setdefault(option, []).append((key, text))
        self.sources[option] = _joined(self.sources.get(option), source)

    def _add_names(self, option: str, value: str, source: str) -> None:
        apply_name_set(value, self.names[option], self.names[_NAME_SETS[option]])
        self.sources[option] = source

    def _unsupported(self, option: str, source: str) -> None:
        self.warnings.append(
            f"{source}: --{option} is not supported by pip-hashsync and is ignored"
        )

    def settings(self) -> Settings:
        flags, scalars, lists = self.flags, self.scalars, self.lists
        no_index = flags.get("no-index", False)
        index_urls = [
            scalars.get("index-url", DEFAULT_INDEX_URL),
            *lists.get("extra-index-url", ()),
        ]
        proxy = scalars.get("proxy")
        if proxy is None and flags.get("no-proxy-env", False):
            proxy = ""
        return Settings(
            index_urls=() if no_index else tuple(index_urls),
            find_links=tuple(lists.get("find-links", ())),
            no_index=no_index,
            trusted_hosts=tuple(lists.get("trusted-host", ())),
            cert=scalars.get("cert"),
            client_cert=scalars.get("client-cert"),
            timeout=float(scalars.get("timeout", "15")),
            retries=int(scalars.get("retries", "5")),
            proxy=proxy,
            no_input=flags.get("no-input", False),
            keyring_provider=scalars.get("keyring-provider", "auto"),
            pre=flags.get("pre", False),
            prefer_binary=flags.get("prefer-binary", False),
            only_binary=frozenset(self.names["only-binary"]),
            no_binary=frozenset(self.names["no-binary"]),
            all_releases=frozenset(self.names["all-releases"]),
            only_final=frozenset(self.names["only-final"]),
            require_hashes=flags.get("require-hashes", False),
            no_require_hashes=flags.get("no-require-hashes", False),
            cache_dir=scalars.get("cache-dir"),
            no_cache=flags.get("no-cache-dir", False),
            break_system_packages=flags.get("break-system-packages", False),
            constraints=tuple(lists.get("constraint", ())),
            build_constraints=tuple(lists.get("build-constraint", ())),
            config_settings=tuple(self.pairs.get("config-settings", ())),
            sources=MappingProxyType(dict(self.sources)),
        )


def backend_config_settings(
    pairs: Iterable[tuple[str, str]], overrides: Iterable[tuple[str, str]] = ()
) -> dict[str, str | list[str]]:
    """``KEY=VALUE`` pairs as a PEP 517 ``config_settings`` mapping, as pip builds it: a key
    given once maps to its value, a key given again to the list of its values in order.
    ``overrides`` (a requirement line's own ``--config-settings``) replace the keys they
    name: pip passes a file line only its own, the command line's only to its arguments;
    pip-hashsync passes the run's to every build, and a line's on top for its project.

    >>> backend_config_settings([("a", "1"), ("b", "2"), ("a", "3")], [("b", "4")])
    {'a': ['1', '3'], 'b': '4'}
    """
    settings = _pairs_mapping(pairs)
    settings.update(_pairs_mapping(overrides))
    return settings


def _pairs_mapping(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    settings: dict[str, str | list[str]] = {}
    for key, value in pairs:
        before = settings.get(key)
        if before is None:
            settings[key] = value
        elif isinstance(before, list):
            before.append(value)
        else:
            settings[key] = [before, value]
    return settings


def _strings(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _joined(before: str | None, source: str) -> str:
    """The sources of a list that ``source`` extended."""
    return f"{before}, {source}" if before and before != source else source


# ---------------------------------------------------------------------------------------
# Requirements-file options


def with_file_options(settings: Settings, options: FileOptions) -> Settings:
    """Apply the requirements files' options on top, as pip's ``handle_option_line`` does.

    ``--no-index`` clears the indexes for good; ``-i`` replaces the whole list (command-line
    extra indexes included) unless there is no index; ``--extra-index-url``, ``-f`` and
    ``--trusted-host`` extend; the flags can only switch on.
    """
    no_index = settings.no_index or options.no_index
    index_urls = [] if no_index else list(settings.index_urls)
    sources = dict(settings.sources)
    if options.index_url and not no_index:
        index_urls = [options.index_url]
        sources["index-url"] = FILE_SOURCE
        sources.pop("extra-index-url", None)
    if not no_index:
        index_urls.extend(options.extra_index_urls)
    given: dict[str, object] = {
        "no-index": options.no_index,
        "extra-index-url": options.extra_index_urls and not no_index,
        "find-links": options.find_links,
        "trusted-host": options.trusted_hosts,
        "pre": options.pre,
        "prefer-binary": options.prefer_binary,
        "only-binary": options.only_binary,
        "no-binary": options.no_binary,
        "all-releases": options.all_releases,
        "only-final": options.only_final,
    }
    for option, value in given.items():
        if value:
            sources[option] = _joined(sources.get(option), FILE_SOURCE)
    for option, where in (
        ("require-hashes", options.require_hashes),
        ("no-require-hashes", options.no_require_hashes),
    ):
        if where is not None:
            sources[option] = _joined(sources.get(option), str(where))
    only_binary, no_binary = _file_name_sets(
        settings.only_binary, settings.no_binary, options.only_binary, options.no_binary
    )
    all_releases, only_final = _file_name_sets(
        settings.all_releases, settings.only_final, options.all_releases, options.only_final
    )
    return replace(
        settings,
        index_urls=tuple(index_urls),
        no_index=no_index,
        find_links=(*settings.find_links, *options.find_links),
        trusted_hosts=(*settings.trusted_hosts, *options.trusted_hosts),
        pre=settings.pre or options.pre,
        prefer_binary=settings.prefer_binary or options.prefer_binary,
        only_binary=only_binary,
        no_binary=no_binary,
        all_releases=all_releases,
        only_final=only_final,
        require_hashes=settings.require_hashes or options.require_hashes is not None,
        no_require_hashes=settings.no_require_hashes or options.no_require_hashes is not None,
        sources=MappingProxyType(sources),
    )


def _file_name_sets(
    first: frozenset[str], second: frozenset[str], file_first: set[str], file_second: set[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Apply a file's paired name sets on top of the configured ones.

    The reader has already merged the file's lines, so only the result is known; applying
    the set that holds ``:all:`` first gives the result the lines would have given.
    """
    target, other = set(first), set(second)
    pairs = [(file_first, target, other), (file_second, other, target)]
    if ":all:" in file_second:
        pairs.reverse()
    for names, into, against in pairs:
        for name in sorted(names, key=lambda name: name != ":all:"):
            apply_name_set(name, into, against)
    return frozenset(target), frozenset(other)


def describe_location(settings: Settings, location: str) -> str:
    """An index or find-links ``location`` (credentials hidden, as in messages) with the
    setting that names it and where that was given: ``the index URL (--extra-index-url
    in PIP_EXTRA_INDEX_URL)``, so a user knows what to fix."""
    indexes = [redact(url) for url in settings.index_urls]
    if location in map(redact, settings.find_links):
        noun, option = "the find-links location", "find-links"
    elif location in indexes:
        noun, option = "the index", "index-url" if location == indexes[0] else "extra-index-url"
    else:
        return location
    source = settings.sources.get(option)
    if source is None:  # only the default index has no source
        return f"{noun} {location} (the default --index-url)"
    where = "on the" if source == COMMAND_LINE else "in"
    return f"{noun} {location} (--{option} {where} {source})"
