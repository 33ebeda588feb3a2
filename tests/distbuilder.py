"""Deterministic wheels and sdists for tests, written directly with the standard library.

Fixed timestamps, permissions and entry order make the same arguments give the same bytes
on every run, so a test (or a golden file) can name an archive by its sha256. Wheels are
stored uncompressed so that no zlib implementation difference can change those bytes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import textwrap
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.tags import parse_tag
from packaging.utils import canonicalize_name

DATE_TIME = (2020, 1, 1, 0, 0, 0)
MTIME = 1577836800  # DATE_TIME as a Unix timestamp (UTC)


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    tag: str = "py3-none-any",
    extras: Mapping[str, Sequence[str]] | None = None,
    files: Mapping[str, str] | None = None,
    build: str | None = None,
) -> Path:
    """Write ``{dist}-{version}[-{build}]-{tag}.whl`` into ``out_dir`` and return its path.

    By default the wheel holds the package ``{module}/__init__.py`` with
    ``__version__ = "{version}"`` (module: the name with ``-`` and ``.`` as ``_``); ``files``
    (path in the wheel -> text) replaces that content. ``extras`` maps each extra to its
    requirements, written as ``Requires-Dist: req; extra == "x"``.
    """
    dist = _dist_name(name)
    module = name.replace("-", "_").replace(".", "_")
    content = dict(files) if files is not None else {f"{module}/__init__.py": _init(version)}
    dist_info = f"{dist}-{version}.dist-info"
    wheel_text = "Wheel-Version: 1.0\nGenerator: distbuilder\nRoot-Is-Purelib: true\n"
    wheel_text += "".join(f"Tag: {t}\n" for t in sorted(str(t) for t in parse_tag(tag)))
    if build is not None:
        wheel_text += f"Build: {build}\n"
    entries = {path: text.encode() for path, text in sorted(content.items())}
    metadata = _metadata(name, version, requires, requires_python, extras or {})
    entries[f"{dist_info}/METADATA"] = metadata.encode()
    entries[f"{dist_info}/WHEEL"] = wheel_text.encode()
    filename = "-".join([dist, version, *([build] if build else []), tag]) + ".whl"
    path = out_dir / filename
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for entry, data in entries.items():
            _write_zip_entry(archive, entry, data)
        _write_zip_entry(archive, f"{dist_info}/RECORD", _record(entries, f"{dist_info}/RECORD"))
    return path


def build_sdist(out_dir: Path, name: str, version: str, *, requires: Sequence[str] = ()) -> Path:
    """Write ``{dist}-{version}.tar.gz`` (PEP 625 name) and return its path.

    It holds PKG-INFO, the package ``{module}/__init__.py`` and a ``pyproject.toml`` whose
    in-tree backend (``backend-path = ["."]``) builds the wheel with the standard library only,
    so building it needs no network and no setuptools.
    """
    dist = _dist_name(name)
    module = name.replace("-", "_").replace(".", "_")
    base = f"{dist}-{version}"
    pkg_info = _metadata(name, version, requires, None, {})
    members = {
        "PKG-INFO": pkg_info,
        "pyproject.toml": _PYPROJECT,
        "sdist_backend.py": _BACKEND.replace("@MODULE@", module),
        f"{module}/__init__.py": _init(version),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, text in sorted(members.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    path = out_dir / f"{base}.tar.gz"
    out_dir.mkdir(parents=True, exist_ok=True)
    # GzipFile with an empty name and a fixed mtime: the gzip header carries neither.
    with path.open("wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=MTIME) as gz:
        gz.write(buffer.getvalue())
    return path


def _dist_name(name: str) -> str:
    """The name as it appears in archive filenames: normalized, ``-`` as ``_``."""
    return canonicalize_name(name).replace("-", "_")


def _init(version: str) -> str:
    return f'__version__ = "{version}"\n'


def _metadata(
    name: str,
    version: str,
    requires: Sequence[str],
    requires_python: str | None,
    extras: Mapping[str, Sequence[str]],
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    for extra, extra_requires in extras.items():
        lines.append(f"Provides-Extra: {extra}")
        for req in extra_requires:
            spec, _, marker = req.partition(";")
            condition = f'extra == "{extra}"'
            if marker.strip():
                condition = f"({marker.strip()}) and {condition}"
            lines.append(f"Requires-Dist: {spec.strip()}; {condition}")
    return "\n".join(lines) + "\n\n"


def _record(entries: Mapping[str, bytes], record_path: str) -> bytes:
    rows = []
    for path, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{path},sha256={digest},{len(data)}\n")
    rows.append(f"{record_path},,\n")
    return "".join(rows).encode()


def _write_zip_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=DATE_TIME)
    info.external_attr = 0o100644 << 16
    info.create_system = 3  # Unix, whatever the platform, so the bytes do not vary
    archive.writestr(info, data)


_PYPROJECT = """\
[build-system]
requires = []
build-backend = "sdist_backend"
backend-path = ["."]
"""

_BACKEND = textwrap.dedent('''\
    """A PEP 517 backend using only the standard library: PKG-INFO plus the package -> wheel."""

    import base64
    import hashlib
    import os
    import re
    import zipfile
    from email.parser import HeaderParser

    MODULE = "@MODULE@"


    def get_requires_for_build_wheel(config_settings=None):
        return []


    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        with open("PKG-INFO", encoding="utf-8") as f:
            metadata = f.read()
        headers = HeaderParser().parsestr(metadata)
        dist = re.sub(r"[-_.]+", "_", headers["Name"]).lower()
        dist_info = f"{dist}-{headers['Version']}.dist-info"
        entries = {}
        for root, _, names in os.walk(MODULE):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    entries[path.replace(os.sep, "/")] = f.read()
        entries = dict(sorted(entries.items()))
        entries[f"{dist_info}/METADATA"] = metadata.encode()
        entries[f"{dist_info}/WHEEL"] = (
            b"Wheel-Version: 1.0\\nGenerator: sdist_backend\\nRoot-Is-Purelib: true\\n"
            b"Tag: py3-none-any\\n"
        )
        record = ""
        for path, data in entries.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record += f"{path},sha256={digest.decode()},{len(data)}\\n"
        entries[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\\n").encode()
        filename = f"{dist}-{headers['Version']}-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
            for path, data in entries.items():
                info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o100644 << 16
                archive.writestr(info, data)
        return filename
''')


def build_sdist_project(
    out_dir: Path,
    name: str,
    version: str,
    *,
    archive_format: str = "tar.gz",
    requires: Sequence[str] = (),
    build_requires: Sequence[str] = (),
    dynamic_requires: Sequence[str] = (),
    imports: Sequence[str] = (),
    fail: bool = False,
) -> Path:
    """Write an sdist ``{dist}-{version}.{archive_format}`` (``tar.gz``, ``tar.bz2``,
    ``tar.xz``, ``tar`` or ``zip``) whose in-tree backend (``backend-path = ["_backend"]``)
    builds a real wheel with the standard library only, and return its path.

    ``build_requires`` goes into ``build-system.requires``; ``get_requires_for_build_wheel``
    answers ``dynamic_requires``; ``build_wheel`` imports the modules ``imports`` first (to
    prove the build environment holds them), appends the project folder's name to the file
    the variable ``DISTBUILDER_BUILD_LOG`` names (to count builds), and with ``fail`` prints
    40 numbered lines and raises instead of building. ``build_editable`` (PEP 660) makes a
    wheel whose ``.pth`` file puts the project folder on ``sys.path``.
    """
    dist = _dist_name(name)
    module = name.replace("-", "_").replace(".", "_")
    base = f"{dist}-{version}"
    pyproject = (
        "[build-system]\n"
        f"requires = {json.dumps(list(build_requires))}\n"
        'build-backend = "project_backend"\n'
        'backend-path = ["_backend"]\n'
    )
    project_backend = (
        _PROJECT_BACKEND.replace("@REQUIRES@", repr(list(dynamic_requires)))
        .replace("@IMPORTS@", repr(list(imports)))
        .replace("@FAIL@", repr(fail))
    )
    members = {
        "PKG-INFO": _metadata(name, version, requires, None, {}),
        "pyproject.toml": pyproject,
        "_backend/sdist_backend.py": _BACKEND.replace("@MODULE@", module),
        "_backend/project_backend.py": project_backend,
        f"{module}/__init__.py": _init(version),
    }
    entries = {f"{base}/{member}": text.encode() for member, text in sorted(members.items())}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{base}.{archive_format}"
    if archive_format == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, data in entries.items():
                _write_zip_entry(archive, entry, data)
        return path
    compression = {"tar.gz": "gz", "tar.bz2": "bz2", "tar.xz": "xz", "tar": ""}[archive_format]
    with tarfile.open(path, f"w:{compression}", format=tarfile.PAX_FORMAT) as tar:
        for entry, data in entries.items():
            info = tarfile.TarInfo(entry)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


_PROJECT_BACKEND = '''\
"""distbuilder's test backend: sdist_backend's wheel, with knobs for the tests."""

import os

from sdist_backend import build_wheel as _build_wheel

REQUIRES = @REQUIRES@
IMPORTS = @IMPORTS@
FAIL = @FAIL@


def get_requires_for_build_wheel(config_settings=None):
    return REQUIRES


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    for module in IMPORTS:
        __import__(module)
    log = os.environ.get("DISTBUILDER_BUILD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(os.path.basename(os.getcwd()) + "\\n")
    if FAIL:
        for number in range(1, 41):
            print("build output line", number)
        raise RuntimeError("this backend was told to fail")
    return _build_wheel(wheel_directory, config_settings, metadata_directory)


def get_requires_for_build_editable(config_settings=None):
    return REQUIRES


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A PEP 660 wheel: only a .pth file putting this folder on sys.path (installed into
    purelib through the wheel's .data folder, which sdist_backend packs as its module)."""
    import re
    import shutil
    from email.parser import HeaderParser

    import sdist_backend

    with open("PKG-INFO", encoding="utf-8") as f:
        headers = HeaderParser().parsestr(f.read())
    dist = re.sub(r"[-_.]+", "_", headers["Name"]).lower()
    data = f"{dist}-{headers['Version']}.data"
    os.makedirs(f"{data}/purelib")
    with open(f"{data}/purelib/__editable__.{dist}.pth", "w", encoding="utf-8") as f:
        f.write(os.getcwd() + "\\n")
    sdist_backend.MODULE = data
    try:
        return _build_wheel(wheel_directory, config_settings, metadata_directory)
    finally:
        shutil.rmtree(data)
'''
