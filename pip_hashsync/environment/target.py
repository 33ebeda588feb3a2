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
# with its version and gets a clear message instead of a SyntaxError. Every target from
# 3.9 is supported: the marker environment is computed here (PEP 508's definition), and
# the tags by ``packaging.tags`` where it runs (3.10+); where it does not, the probe gives
# the interpreter, ABIs and platforms (as ``packaging.tags`` finds them, with its
# ``_manylinux``/``_musllinux``, which run on 3.9) and :func:`_composed_tags` orders them.
_PROBE = """\
import json, os, platform, struct, sys, sysconfig

out = {"version": platform.python_version(), "executable": sys.executable,
       "supported": sys.version_info >= (3, 9)}


def nodot(version):
    return "".join(map(str, version))


def normalize(text):
    return text.replace(".", "_").replace("-", "_").replace(" ", "_")


def cpython_abis():
    version, var = nodot(sys.version_info[:2]), sysconfig.get_config_var
    debug = var("Py_DEBUG")
    if debug or (debug is None and (hasattr(sys, "gettotalrefcount")
                                    or "_d.pyd" in importlib.machinery.EXTENSION_SUFFIXES)):
        debug = "d"
    else:
        debug = ""
    threading = "t" if sys.version_info >= (3, 13) and var("Py_GIL_DISABLED") else ""
    abis = ["cp" + version + threading + debug]
    return abis + ["cp" + version + threading] if debug else abis


def generic_abis():
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    parts = suffix.split(".") if isinstance(suffix, str) else []
    if len(parts) < 3:
        return cpython_abis() if len(parts) == 2 else []
    soabi = parts[1]
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1]
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    else:
        abi = soabi
    return [normalize(abi)] if abi else []


def linux_platforms(is_32bit):
    from packaging import _manylinux, _musllinux

    linux = normalize(sysconfig.get_platform())
    if not linux.startswith("linux_"):
        return [linux]
    if is_32bit:
        linux = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(linux, linux)
    arch = linux.split("_", 1)[1]
    archs = {"armv8l": ["armv8l", "armv7l"]}.get(arch, [arch])
    return (["linux_" + a for a in archs] + list(_manylinux.platform_tags(archs))
            + list(_musllinux.platform_tags(archs)))


def mac_formats(version, arch):
    formats = [arch]
    if arch in ("x86_64", "i386"):
        if version < (10, 4):
            return []
        formats += ["intel", "fat64", "fat3"] if arch == "x86_64" else ["intel", "fat3", "fat"]
    elif arch == "ppc64":
        if version > (10, 5) or version < (10, 4):
            return []
        formats.append("fat64")
    elif arch == "ppc":
        if version > (10, 6):
            return []
        formats += ["fat3", "fat"]
    if arch in ("arm64", "x86_64"):
        formats.append("universal2")
    if arch in ("x86_64", "i386", "ppc64", "ppc", "intel"):
        formats.append("universal")
    return formats


def mac_platforms(is_32bit):
    import subprocess

    release, _, arch = platform.mac_ver()
    if tuple(map(int, release.split(".")[:2])) == (10, 16):
        release = subprocess.run(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            check=True, env={"SYSTEM_VERSION_COMPAT": "0"}, stdout=subprocess.PIPE,
            universal_newlines=True).stdout
    version = tuple(map(int, release.split(".")[:2]))
    if is_32bit:
        arch = "ppc" if arch.startswith("ppc") else "i386"
    found = []
    if (10, 0) <= version < (11, 0):
        for minor in range(version[1], -1, -1):
            found += ["macosx_10_%d_%s" % (minor, f) for f in mac_formats((10, minor), arch)]
    if version >= (11, 0):
        for major in range(version[0], 10, -1):
            found += ["macosx_%d_0_%s" % (major, f) for f in mac_formats((major, 0), arch)]
        for minor in range(16, 3, -1):
            formats = mac_formats((10, minor), arch) if arch == "x86_64" else ["universal2"]
            found += ["macosx_10_%d_%s" % (minor, f) for f in formats]
    return found


def tag_parts():
    is_32bit = struct.calcsize("P") == 4
    system = platform.system()
    if system == "Linux":
        platforms = linux_platforms(is_32bit)
    elif system == "Darwin":
        platforms = mac_platforms(is_32bit)
    else:
        platforms = [normalize(sysconfig.get_platform())]
    cpython = sys.implementation.name == "cpython"
    return {"python_version": list(sys.version_info[:2]),
            "interpreter_version": str(sysconfig.get_config_var("py_version_nodot")
                                       or nodot(sys.version_info[:2])),
            "abis": cpython_abis() if cpython else generic_abis(), "platforms": platforms}


def marker_environment():
    info = sys.implementation.version
    implementation_version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        implementation_version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


if out["supported"]:
    import importlib.machinery, importlib.util

    here = sys.argv[1]
    spec = importlib.util.spec_from_file_location(
        "packaging", os.path.join(here, "__init__.py"), submodule_search_locations=[here])
    module = importlib.util.module_from_spec(spec)
    sys.modules["packaging"] = module
    spec.loader.exec_module(module)
    try:
        from packaging import tags
    except (ImportError, SyntaxError):  # packaging's tags need 3.10
        out["tag_parts"] = tag_parts()
    else:
        out["tags"] = [str(t) for t in tags.sys_tags()]

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
        paths=paths, markers=marker_environment(), os_name=os.name,
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
            data = _with_tags(_probe(path))
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


def _with_tags(data: dict[str, Any]) -> dict[str, Any]:
    """The answer with its ``tags``: a target that cannot run ``packaging.tags`` (3.9)
    gives their parts instead, ordered here as ``packaging.tags.sys_tags`` orders them."""
    parts = data.pop("tag_parts", None)
    if "tags" in data or not isinstance(parts, dict):
        return data
    # A part missing or of the wrong type: reported as a malformed answer, without tags.
    with contextlib.suppress(KeyError, TypeError, ValueError):
        data["tags"] = _composed_tags(
            str(data.get("implementation")),
            tuple(parts["python_version"]),
            str(parts["interpreter_version"]),
            [str(abi) for abi in parts["abis"]],
            [str(platform) for platform in parts["platforms"]],
        )
    return data


def _composed_tags(
    implementation: str,
    python_version: tuple[int, ...],
    interpreter_version: str,
    abis: list[str],
    platforms: list[str],
) -> list[str]:
    """``packaging.tags.sys_tags`` for an interpreter described by its parts."""
    from packaging import tags

    name = tags.INTERPRETER_SHORT_NAMES.get(implementation) or implementation
    if name == "cp":
        found = list(tags.cpython_tags(python_version, abis, platforms))
    else:
        found = list(tags.generic_tags(f"{name}{interpreter_version}", abis, platforms))
    compatible = {"pp": "pp3", "cp": f"cp{interpreter_version}"}.get(name)
    found += tags.compatible_tags(python_version, compatible, platforms)
    return [str(tag) for tag in found]


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
