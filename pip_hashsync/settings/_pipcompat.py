"""The one place that imports pip's internals, and the copy of pip's logic used without them.

pip's internal modules move between releases (``libraries.md`` §6.3), so every import here
happens inside a function, what it finds is checked before use, and each helper has a
plain fallback that works when pip is missing, broken or changed. Nothing else in the
package imports pip.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
import sys
from collections.abc import Callable, Mapping

#: The variables besides ``PIP_CONFIG_FILE`` that decide where :func:`config_files` looks.
CONFIG_LOCATION_VARIABLES = (
    "HOME", "USERPROFILE", "APPDATA", "ALLUSERSPROFILE",
    "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_HOME", "XDG_DATA_DIRS",
)  # fmt: skip

#: pip's configuration file name on this platform.
CONFIG_BASENAME = "pip.ini" if sys.platform == "win32" else "pip.conf"

# A Homebrew framework Python (also as a venv's base): its share/pip is a global config dir.
_HOMEBREW_PYTHON = re.compile(
    r"(?P<prefix>.+)/opt/python[^/]*/Frameworks/Python\.framework/Versions/[^/]+"
)


def config_files(
    site_prefix: str | None, *, environ: Mapping[str, str] = os.environ, isolated: bool = False
) -> list[tuple[str, str]]:
    """pip's configuration files as ``(kind, path)`` in load order: later files override.

    ``kind`` is ``"global"``, ``"user"``, ``"site"`` or ``"env"``. The site file is the
    one in ``site_prefix``, the target's ``sys.prefix``, because ``pip --python`` runs pip
    inside the target; None leaves it out (the target is not known yet). Files are listed
    whether they exist or not (as ``pip config debug`` shows them). ``PIP_CONFIG_FILE`` is
    read from ``environ``: ``os.devnull`` means no file at all; an existing file is loaded
    last and the user files are skipped. ``isolated`` (pip's ``--isolated``) skips the
    user files too.

    >>> config_files("/venv", environ={"PIP_CONFIG_FILE": os.devnull})
    []
    """
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    global_dirs, user_dir = _pip_config_dirs() or builtin_config_dirs(sys.platform, environ)
    files = [("global", os.path.join(path, CONFIG_BASENAME)) for path in global_dirs]
    if not isolated and not (env_file and os.path.exists(env_file)):
        legacy = "pip" if sys.platform == "win32" else ".pip"
        legacy_dir = os.path.join(_home(sys.platform, environ), legacy)
        files.append(("user", os.path.join(legacy_dir, CONFIG_BASENAME)))
        files.append(("user", os.path.join(user_dir, CONFIG_BASENAME)))
    if site_prefix is not None:
        files.append(("site", os.path.join(site_prefix, CONFIG_BASENAME)))
    if env_file:
        files.append(("env", env_file))
    return files


def _pip_config_dirs() -> tuple[list[str], str] | None:
    """pip's own global config dirs and user config dir, or None if pip cannot tell us.

    Only ``pip._internal.utils.appdirs`` is imported (a few milliseconds; the full
    ``pip._internal.configuration`` costs several times more): the file names and the
    legacy location around these dirs have been fixed since pip 10.
    """
    try:
        from pip._internal.utils import appdirs
    except Exception:  # pip missing, or too broken to import: use our copy
        return None
    site_config_dirs = getattr(appdirs, "site_config_dirs", None)
    user_config_dir = getattr(appdirs, "user_config_dir", None)
    if not (callable(site_config_dirs) and callable(user_config_dir)):
        return None
    if not (_accepts_appname(site_config_dirs) and _accepts_appname(user_config_dir)):
        return None
    try:
        global_dirs = site_config_dirs("pip")
        user_dir = user_config_dir("pip")
    except Exception:  # a changed helper that fails here must not stop the run
        return None
    if not isinstance(user_dir, str) or not isinstance(global_dirs, list):
        return None
    if not all(isinstance(path, str) for path in global_dirs):
        return None
    return global_dirs, user_dir


def _accepts_appname(function: Callable[..., object]) -> bool:
    """True when ``function("pip")`` is a valid call (pip may change the signature)."""
    import inspect

    try:
        inspect.signature(function).bind("pip")
    except (TypeError, ValueError):
        return False
    return True


def builtin_config_dirs(platform: str, environ: Mapping[str, str]) -> tuple[list[str], str]:
    """Our copy of pip's rules (pip 26.3, vendored platformdirs): global dirs, user dir.

    Used when pip's own helpers are not importable. ``platform`` is a ``sys.platform``
    value, so each platform's rules can be checked on any machine.
    """
    if platform == "win32":
        program_data = environ.get("ALLUSERSPROFILE") or "C:\\ProgramData"
        app_data = environ.get("APPDATA") or ntpath.join(
            _home(platform, environ), "AppData", "Roaming"
        )
        return [ntpath.join(program_data, "pip")], ntpath.join(app_data, "pip")
    home = _home(platform, environ)
    if platform == "darwin":
        # pip 26.2+: the XDG variables apply on macOS too; pip uses the *data* dirs there.
        global_dirs = _xdg_dirs(environ, "XDG_DATA_DIRS")
        if not global_dirs:
            match = _HOMEBREW_PYTHON.fullmatch(sys.base_prefix)
            global_dirs = [f"{match['prefix']}/share"] if match else []
            global_dirs.append("/Library/Application Support")
        data_home = _xdg_dir(environ, "XDG_DATA_HOME") or f"{home}/Library/Application Support"
        data_dir = posixpath.join(data_home, "pip")
        user_dir = data_dir if os.path.isdir(data_dir) else f"{home}/.config/pip"
        return [posixpath.join(path, "pip") for path in global_dirs], user_dir
    global_dirs = _xdg_dirs(environ, "XDG_CONFIG_DIRS") or ["/etc/xdg"]
    config_home = _xdg_dir(environ, "XDG_CONFIG_HOME") or f"{home}/.config"
    user_dir = posixpath.join(config_home, "pip")
    return [*(posixpath.join(path, "pip") for path in global_dirs), "/etc"], user_dir


def _xdg_dir(environ: Mapping[str, str], name: str) -> str | None:
    """An XDG variable's value; relative paths are invalid under the XDG spec and ignored."""
    path = environ.get(name, "").strip()
    return path if path.startswith("/") else None


def _xdg_dirs(environ: Mapping[str, str], name: str) -> list[str]:
    paths = (path.strip() for path in environ.get(name, "").split(os.pathsep))
    return [path for path in paths if path.startswith("/")]


def _home(platform: str, environ: Mapping[str, str]) -> str:
    """The home directory as ``os.path.expanduser`` finds it on ``platform``."""
    home = environ.get("USERPROFILE" if platform == "win32" else "HOME")
    return home or os.path.expanduser("~")
