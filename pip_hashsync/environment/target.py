"""The target interpreter: the Python whose environment is synced, which need not be ours.

Tags, the marker environment and install paths can only be computed correctly inside the
target (standards §5), so :func:`introspect` runs one small probe there with our own
``packaging`` and reads its answer as JSON. The answer is cached per interpreter, keyed on
what would change it, so a no-op sync starts no process (EC65). A cached answer is checked
before it is believed (policy 12): it must name the interpreter asked for and keep every
install folder under that interpreter's prefix, else the interpreter is asked again. The
target needs nothing installed: a ``python -m venv --without-pip`` environment is enough.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import packaging
from packaging.tags import Tag
from packaging.utils import canonicalize_name

import pip_hashsync
from pip_hashsync.errors import ExitCode, HashsyncError, InputError

_PROBE_TIMEOUT = 60

# Runs in the target with ``-I``; argv[1] is the directory of our ``packaging``. Only that
# package is loaded from there (not its whole site-packages, which could shadow the
# target's modules). Kept free of syntax newer than 3.4 so an old target still answers
# with its version and gets a clear message instead of a SyntaxError. The version floor is
# packaging's.
_PROBE = """\
import json, os, platform, sys, sysconfig

out = {"version": platform.python_version(), "executable": sys.executable,
       "supported": sys.version_info >= (3, 9)}
if out["supported"]:
    import importlib.util

    here = sys.argv[1]
    spec = importlib.util.spec_from_file_location(
        "packaging", os.path.join(here, "__init__.py"), submodule_search_locations=[here])
    module = importlib.util.module_from_spec(spec)
    sys.modules["packaging"] = module
    spec.loader.exec_module(module)
    from packaging import markers, tags

    if hasattr(sysconfig, "get_preferred_scheme"):
        scheme = sysconfig.get_paths(sysconfig.get_preferred_scheme("prefix"))
    else:
        scheme = sysconfig.get_paths()
    paths = {k: scheme[k] for k in
             ("purelib", "platlib", "scripts", "data", "include", "stdlib")}
    in_venv = sys.prefix != sys.base_prefix
    if in_venv:
        paths["headers"] = os.path.join(
            sys.prefix, "include", "site", "python%d.%d" % sys.version_info[:2])
    else:
        paths["headers"] = paths["include"]
    out.update(
        prefix=sys.prefix, base_prefix=sys.base_prefix, in_venv=in_venv,
        implementation=sys.implementation.name, cache_tag=sys.implementation.cache_tag,
        paths=paths, tags=[str(t) for t in tags.sys_tags()],
        markers=markers.default_environment(), os_name=os.name,
        platform=sysconfig.get_platform())
json.dump(out, sys.stdout)
"""

_DEFAULT_EXTERNALLY_MANAGED = (
    "The Python environment under {prefix} is managed externally and may not be changed by "
    "pip-hashsync. Use a virtual environment (--venv DIR), or the distributor's tools; "
    "--break-system-packages overrides this check."
)


class TargetError(HashsyncError):
    """The target interpreter cannot be found, run or used."""

    exit_code = ExitCode.ENVIRONMENT


@dataclass(frozen=True)
class Target:
    """What pip-hashsync needs to know about the target interpreter, as the target says it."""

    executable: str
    prefix: str
    base_prefix: str
    in_venv: bool
    version: str
    implementation: str
    cache_tag: str | None
    #: Scheme paths: purelib, platlib, scripts, data, include, stdlib, headers.
    paths: Mapping[str, str]
    #: Supported tags, best first, as ``str(Tag)``.
    tags: tuple[str, ...]
    markers: Mapping[str, str]
    #: PEP 668 message when installing here must be refused (EC83), else None.
    externally_managed: str | None
    os_name: str
    platform: str

    @property
    def python_version(self) -> str:
        """``"X.Y"``, as markers and Requires-Python see it."""
        return self.markers["python_version"]

    @functools.cached_property
    def tag_ranks(self) -> dict[Tag, int]:
        """Rank of every supported tag; lower is better. Built once, on first use."""
        return {Tag(*text.split("-", 2)): rank for rank, text in enumerate(self.tags)}

    def site_dirs(self) -> tuple[str, ...]:
        """Where installed distributions live: purelib, then platlib if it differs."""
        return tuple(dict.fromkeys((self.paths["purelib"], self.paths["platlib"])))

    def marker_env(self, extra: str = "") -> dict[str, str]:
        """The full environment for ``Marker.evaluate``, which would otherwise fill any
        missing key from the running interpreter instead of the target."""
        return {**self.markers, "extra": extra}


def find_target(python: str | None, venv: str | None, cache_dir: Path | None) -> Target:
    """The target chosen by ``--python`` or ``--venv``; else the activated venv
    (``VIRTUAL_ENV``, as uv does: a pipx-style install must not sync its own environment
    when the user activated another); else the running interpreter.

    ``--python`` takes a path, a name on PATH, or (as pip does) an environment directory.
    ``--venv DIR`` must exist here; ``sync`` creates it first with :func:`create_venv`.
    """
    if python is not None and venv is not None:
        raise InputError("--python and --venv cannot be used together.")
    if venv is not None:
        if not os.path.isdir(venv):
            raise TargetError(f"The virtual environment {venv} does not exist.")
        return introspect(_env_executable(venv), cache_dir)
    activated = os.environ.get("VIRTUAL_ENV") if python is None else None
    if activated:
        executable = _env_executable(activated)
        if not os.path.isfile(executable):
            raise TargetError(
                f"VIRTUAL_ENV names {activated}, which has no {executable}: activate a "
                "virtual environment, unset VIRTUAL_ENV, or choose one with --venv or --python."
            )
        return introspect(executable, cache_dir)
    if python is None:
        if not sys.executable:
            raise TargetError("The running Python does not know its own executable; use --python.")
        return introspect(sys.executable, cache_dir)
    if os.path.isdir(python):
        return introspect(_env_executable(python), cache_dir)
    if os.sep in python or (os.altsep and os.altsep in python) or os.path.exists(python):
        return introspect(python, cache_dir)
    import shutil

    found = shutil.which(python)
    if found is None:
        raise TargetError(f"No Python interpreter named {python} was found on PATH.")
    return introspect(found, cache_dir)


def _env_executable(directory: str) -> str:
    if os.name == "nt":
        return os.path.join(directory, "Scripts", "python.exe")
    return os.path.join(directory, "bin", "python")


#: Answers this process already has, by the key of what they depend on: a run asks twice
#: (the no-op check, then the full path), with or without a cache folder. A failure is
#: kept too, so that an interpreter that hangs costs one timeout, not two.
_IN_PROCESS: dict[str, Target | TargetError] = {}

#: The probe's answer: each key and its type (``paths`` holds :data:`_PATH_KEYS`).
_ANSWER_TYPES: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "executable": str,
    "prefix": str,
    "base_prefix": str,
    "in_venv": bool,
    "implementation": str,
    "cache_tag": (str, type(None)),
    "paths": dict,
    "tags": list,
    "markers": dict,
    "os_name": str,
    "platform": str,
}
_PATH_KEYS = ("purelib", "platlib", "scripts", "data", "include", "stdlib", "headers")


def introspect(python: str, cache_dir: Path | None) -> Target:
    """Ask ``python`` about itself once; later calls read the cached answer.

    Raises :class:`TargetError`, naming the path, when it is not a usable interpreter.
    """
    path = os.path.abspath(python)
    if not os.path.isfile(path):
        raise TargetError(f"No Python interpreter at {python}: the file does not exist.")
    key = _cache_key(path)
    known = _IN_PROCESS.get(key)
    if isinstance(known, TargetError):
        raise known
    if known is not None:
        return known
    cache_file = cache_dir / "interpreters" / f"{key}.json" if cache_dir else None
    target = _load(cache_file, path) if cache_file is not None else None
    if target is None:
        try:
            data = _probe(path)
            target = _target_from(data, path)
        except TargetError as error:
            _IN_PROCESS[key] = error
            raise
        if cache_file is not None:
            _store(cache_file, data)
    _IN_PROCESS[key] = target
    return target


def _cache_key(path: str) -> str:
    """What changes the probe's answer: the executable as given (venvs share the real one),
    the real binary, the venv's ``pyvenv.cfg`` and the versions of the probe's code."""
    real = os.path.realpath(path)
    stat = os.stat(real)
    cfg_mtimes: list[int | None] = []
    for folder in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        try:
            cfg_mtimes.append(os.stat(os.path.join(folder, "pyvenv.cfg")).st_mtime_ns)
        except OSError:
            cfg_mtimes.append(None)
    key = [
        path,
        real,
        stat.st_mtime_ns,
        stat.st_size,
        cfg_mtimes,
        pip_hashsync.__version__,
        packaging.__version__,
        _PROBE,
    ]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def _load(cache_file: Path, path: str) -> Target | None:
    """The cached target of ``path``, or None when absent, unreadable or not believable
    (then it is probed again)."""
    try:
        data = json.loads(cache_file.read_bytes())
        target = _target_from(data, path) if isinstance(data, dict) else None
    except (OSError, ValueError, TargetError):
        return None
    return target if target is not None and _believable(target, path) else None


def _believable(target: Target, path: str) -> bool:
    """A cached answer (which anyone who can write the cache folder can edit) is the one
    the interpreter at ``path`` gave: naming ``path`` itself (or a link in the same folder
    to the same file), a venv exactly when a ``pyvenv.cfg`` is where the interpreter looks
    for one, with that folder as its prefix, and every install folder under the prefix. A
    venv's stdlib and include are the base interpreter's, and change nothing here. Paths
    are compared as written first: links are resolved only when that fails (a no-op run
    reads this, and resolving costs a system call per folder)."""
    executable, prefix = target.executable, target.prefix
    if not os.path.isabs(executable) or os.path.dirname(os.path.normpath(executable)) != (
        os.path.dirname(path)
    ):
        return False
    if not _same(executable, path):
        return False
    venv_dirs = [
        folder
        for folder in (os.path.dirname(path), os.path.dirname(os.path.dirname(path)))
        if os.path.isfile(os.path.join(folder, "pyvenv.cfg"))
    ]
    if target.in_venv != bool(venv_dirs):
        return False
    checked: tuple[str, ...] = _PATH_KEYS
    if venv_dirs:
        checked = ("purelib", "platlib", "scripts", "data", "headers")
        if not _same(prefix, venv_dirs[0]):
            return False
    elif prefix != target.base_prefix or not _under(executable, prefix):
        return False
    return all(_under(target.paths[key], prefix) for key in checked)


def _same(path: str, other: str) -> bool:
    """Both name the same file: as written, or once links are resolved."""
    return os.path.normpath(path) == other or os.path.realpath(path) == os.path.realpath(other)


def _under(path: str, folder: str) -> bool:
    """``path`` (absolute) is ``folder`` or below it: as written, or once links are resolved."""

    def below(inner: str, outer: str) -> bool:
        return inner == outer or inner.startswith(os.path.join(outer, ""))

    return os.path.isabs(path) and (
        below(os.path.normpath(path), os.path.normpath(folder))
        or below(os.path.realpath(path), os.path.realpath(folder))
    )


def _malformed(data: dict[str, Any]) -> list[str]:
    """The keys of a probe's answer that are missing or of the wrong type."""
    bad = [key for key, kind in _ANSWER_TYPES.items() if not isinstance(data.get(key), kind)]
    paths, tags, markers = data.get("paths"), data.get("tags"), data.get("markers")
    if isinstance(paths, dict):
        bad += [f"paths.{key}" for key in _PATH_KEYS if not isinstance(paths.get(key), str)]
    if isinstance(tags, list) and not all(isinstance(tag, str) for tag in tags):
        bad.append("tags")
    if isinstance(markers, dict) and not all(isinstance(v, str) for v in markers.values()):
        bad.append("markers")
    return bad


def _store(cache_file: Path, data: dict[str, Any]) -> None:
    """Write atomically; a cache that cannot be written only costs a probe next time."""
    import tempfile

    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temp, cache_file)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def _probe(path: str) -> dict[str, Any]:
    packaging_dir = os.path.dirname(packaging.__file__)
    try:
        result = subprocess.run(
            [path, "-I", "-c", _PROBE, packaging_dir],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TargetError(
            f"The Python interpreter {path} did not answer within {_PROBE_TIMEOUT} seconds."
        ) from None
    except OSError as exc:
        raise TargetError(
            f"Cannot run {path} as a Python interpreter: {exc.strerror or exc}."
        ) from None
    try:
        data = json.loads(result.stdout)
        if not isinstance(data, dict):
            raise ValueError(data)
    except ValueError:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise TargetError(
            f"{path} did not answer like a Python interpreter "
            f"(exit code {result.returncode}){detail}"
        ) from None
    return data


def _target_from(data: dict[str, Any], path: str) -> Target:
    if not data.get("supported"):
        raise TargetError(
            f"{path} is Python {data.get('version', '(unknown version)')}; pip-hashsync needs "
            "a target interpreter of Python 3.9 or newer."
        )
    bad = _malformed(data)
    if bad:
        raise TargetError(
            f"{path} did not answer like a Python interpreter: its answer lacks "
            f"{', '.join(bad)} (or gives the wrong type)."
        )
    paths = dict(data["paths"])
    return Target(
        executable=data["executable"],
        prefix=data["prefix"],
        base_prefix=data["base_prefix"],
        in_venv=data["in_venv"],
        version=data["version"],
        implementation=data["implementation"],
        cache_tag=data["cache_tag"],
        paths=paths,
        tags=tuple(data["tags"]),
        markers=dict(data["markers"]),
        # Not cached: the marker file can appear or go without the interpreter changing.
        externally_managed=externally_managed_error(
            paths["stdlib"], data["in_venv"], data["prefix"]
        ),
        os_name=data["os_name"],
        platform=data["platform"],
    )


def externally_managed_error(stdlib_dir: str, in_venv: bool, prefix: str = "") -> str | None:
    """PEP 668: the text to refuse with when the environment is externally managed, else None.

    Like pip, the message is the ``Error-<lang>`` (then ``Error``) key of the file's
    ``[externally-managed]`` section for the current message locale, or a default text.
    """
    if in_venv:
        return None
    marker = os.path.join(stdlib_dir, "EXTERNALLY-MANAGED")
    if not os.path.isfile(marker):
        return None
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(marker, encoding="utf-8")
        section = parser["externally-managed"]
    except (OSError, UnicodeDecodeError, configparser.Error, KeyError):
        section = None
    if section is not None:
        for key in _error_keys():
            if section.get(key):
                return section[key]
    return _DEFAULT_EXTERNALLY_MANAGED.format(prefix=prefix or os.path.dirname(stdlib_dir))


def _error_keys() -> list[str]:
    """``Error-de_DE``, ``Error-de``, ``Error`` for a German message locale, as pip tries."""
    import locale

    try:
        lang = locale.getlocale(locale.LC_MESSAGES)[0]
    except (AttributeError, ValueError):  # no LC_MESSAGES on Windows
        lang = None
    if not lang:
        return ["Error"]
    keys = [f"Error-{lang}"]
    keys += [f"Error-{lang.partition(sep)[0]}" for sep in ("-", "_") if sep in lang]
    return [*keys, "Error"]


def create_venv(directory: Path) -> None:
    """Create ``--venv DIR`` with the running Python and no pip: pip-hashsync installs
    without pip in the target, and a pip we did not put there by hash is not wanted."""
    import venv

    try:
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(directory)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise TargetError(f"Cannot create the virtual environment {directory}: {exc}") from None


def default_cache_dir() -> Path:
    """The per-user cache folder, where each platform keeps caches."""
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return Path(base, "pip-hashsync", "Cache")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "pip-hashsync"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")
    return Path(base, "pip-hashsync")


#: What pip-sync (pip-tools) never removes, canonical; its ``setuptools`` is ours below 3.12.
_PIP_TOOLS_KEEPS = (
    "-markerlib", "pip", "pip-tools", "pip-review", "pkg-resources", "wsgiref", "argparse",
    "python", "distribute",
)  # fmt: skip


def protected_names(target: Target, keep: Iterable[str] = ()) -> frozenset[str]:
    """Canonical names ``sync`` never removes (design policy 9, EC59): the installers,
    pip-tools' list (what pip-sync never removes), the setuptools set on targets below 3.12,
    and ``--keep`` names. Their dependency closure in the target is added by the planner."""
    names = set(_PIP_TOOLS_KEEPS) | {"pip-hashsync"}
    major, minor = (int(part) for part in target.python_version.split(".")[:2])
    if (major, minor) < (3, 12):
        names |= {"setuptools", "wheel"}
    return frozenset(names | {canonicalize_name(name) for name in keep})
