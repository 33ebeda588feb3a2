"""Install one verified wheel into the target with ``installer``, and compile bytecode there.

``installer`` unpacks, writes scripts and RECORD, and refuses paths that escape a scheme
directory; it writes no INSTALLER, REQUESTED or ``direct_url.json`` and keeps no record of
what it wrote (libraries §1.3). So the destination here announces every path *before* the
file is created (the transaction journals it, so a killed run can be undone) and the
installation metadata is passed in as additional ``.dist-info`` files, which puts them in
RECORD. Files come out of the archive, or out of its unpacked copy (:mod:`unpacked`), copied,
cloned or (``--link-mode hardlink`` only) linked, and hashed where they land (EC52).

Everything interpreter-specific comes from the :class:`Target`, not from the running
Python: shebangs and launchers name the target's python, and bytecode is compiled by the
target itself (EC84).
"""

from __future__ import annotations

import configparser
import io
import json
import os
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry
from installer.sources import WheelSource
from installer.utils import (
    SCHEME_NAMES,
    Scheme,
    copyfileobj_with_hashing,
    make_file_executable,
    parse_entrypoints,
    parse_metadata_file,
)

from pip_hashsync import PROVENANCE_FILE
from pip_hashsync.environment.installed import Provenance
from pip_hashsync.environment.members import BadMember
from pip_hashsync.environment.target import Target
from pip_hashsync.environment.uninstall import Containment, is_inside, link_out_of
from pip_hashsync.environment.unpacked import (
    CachedFile,
    LoadedFile,
    UnpackedCache,
    open_source,
)
from pip_hashsync.errors import ExitCode, HashsyncError

if TYPE_CHECKING:
    from installer.scripts import LauncherKind

INSTALLER_NAME = b"pip-hashsync\n"

# sysconfig.get_platform() of a Windows target -> the launcher installer embeds for it.
_WINDOWS_LAUNCHERS: dict[str, LauncherKind] = {
    "win-amd64": "win-amd64",
    "win32": "win-ia32",
    "win-arm64": "win-arm64",
    "win-arm32": "win-arm",
}

# Below this many files one compiler process is quicker than starting a pool of them.
_PARALLEL_COMPILE_FROM = 200

# A script's ``module:attribute [extras]``, as installer needs it to write a launcher.
_SCRIPT_REFERENCE = re.compile(r"[\w.]+\s*:\s*[\w.]+\s*(\[.*\])?\s*")


class InstallError(HashsyncError):
    """A wheel could not be installed (exit 5; the transaction rolls back)."""

    exit_code = ExitCode.ENVIRONMENT


@dataclass(frozen=True)
class WheelToInstall:
    """A verified archive and the installation metadata to write with it."""

    path: Path
    #: The user asked for it (not only a dependency): write REQUESTED.
    requested: bool
    #: Written as :data:`PROVENANCE_FILE` in the ``.dist-info`` and listed in RECORD.
    provenance: Provenance
    #: PEP 610 record for a URL or path requirement (``archive_info.hashes``), else None.
    direct_url: Mapping[str, Any] | None = None
    #: Where unpacked copies of archives are kept (None: ``--no-cache``).
    unpacked: UnpackedCache | None = None


def install_wheel(
    target: Target, wheel: WheelToInstall, *, before_write: Callable[[str], None]
) -> list[str]:
    """Install ``wheel`` into ``target``; return every path written, RECORD included.

    ``before_write(path)`` is called with each absolute destination before the file is
    created. Existing files are overwritten: a replaced version's files were stashed first,
    and a stale leftover must not block the install. The archive's sha256 is pinned, so the
    wheel's RECORD is checked for names only.
    """
    try:
        with open_source(wheel.path, wheel.provenance.sha256, wheel.unpacked) as source:
            source.check_record()
            _check_scripts(source)
            destination = _JournaledDestination(
                before_write,
                scheme_dict=_scheme_dict(target, source.distribution),
                interpreter=target.executable,
                script_kind=_script_kind(target),
                overwrite_existing=True,
            )
            _install(source, destination, _metadata_files(wheel))
    except BadMember as exc:
        raise BadMember(f"{wheel.path.name}: {exc}") from None
    except (InstallerError, OSError, ValueError, KeyError) as exc:
        raise InstallError(f"Cannot install {wheel.path.name} into {target.prefix}: {exc}") from exc
    return destination.written


def _install(
    source: WheelSource, destination: _JournaledDestination, metadata: Mapping[str, bytes]
) -> None:
    """Write ``source``'s members, its scripts, the installation ``metadata`` and RECORD,
    as :func:`installer.install` does, but finding a member's scheme from the start of its
    name (installer calls ``commonpath`` for every member: a tenth of a 20,000-file
    install). Members under ``__pycache__`` are skipped (they would shadow compiled code)."""
    root = _root_scheme(source)
    record = posixpath.join(source.dist_info_dir, "RECORD")
    data = posixpath.join(source.data_dir, "")
    written: list[tuple[Scheme, RecordEntry]] = []
    if "entry_points.txt" in source.dist_info_filenames:
        entry_points = parse_entrypoints(source.read_dist_info("entry_points.txt"))
        for name, module, attribute, section in entry_points:
            script = destination.write_script(name, module, attribute, section)
            written.append((Scheme("scripts"), script))
    for (path, _, _), stream, executable in source.get_contents():
        if path == record or "__pycache__" in path.split("/")[:-1]:
            continue
        scheme, inner = root, path
        if path.startswith(data):
            name, _, inner = path[len(data) :].partition("/")
            if name not in SCHEME_NAMES or not inner:
                raise ValueError(f"{path} is not inside a valid .data subfolder")
            scheme = Scheme(name)
        written.append((scheme, destination.write_file(scheme, inner, stream, executable)))
    for filename, contents in metadata.items():
        path = posixpath.join(source.dist_info_dir, filename)
        written.append((root, destination.write_file(root, path, io.BytesIO(contents), False)))
    written.append((root, RecordEntry(record, None, None)))
    destination.finalize_installation(root, record, written)


def _root_scheme(source: WheelSource) -> Scheme:
    """Where the wheel's root goes, from its WHEEL file (a 1.x wheel only)."""
    wheel = parse_metadata_file(source.read_dist_info("WHEEL"))
    version = wheel["Wheel-Version"] or ""
    if not version.startswith("1."):
        raise ValueError(f"its Wheel-Version is {version or 'missing'}; only 1.x is supported")
    return Scheme("purelib" if wheel["Root-Is-Purelib"] == "true" else "platlib")


def compile_bytecode(target: Target, paths: Iterable[Path]) -> str | None:
    """Compile the ``.py`` files among ``paths`` that lie in purelib or platlib, by running
    ``<target python> -m compileall`` (the running interpreter would write ``.pyc`` files of
    the wrong version). Return a warning when compilation failed, else None.

    A warning, not an error: the files are installed and work without bytecode, and a module
    that does not compile on this Python (pip too only logs this) must not undo a sync.
    """
    roots = tuple(os.path.join(target.paths[key], "") for key in ("purelib", "platlib"))
    sources = [str(p) for p in paths if p.suffix == ".py" and str(p).startswith(roots)]
    if not sources:
        return None
    command = [target.executable, "-I", "-m", "compileall", "-q", "-i", "-"]
    if len(sources) >= _PARALLEL_COMPILE_FROM:
        command.insert(-2, "-j0")
    try:
        result = subprocess.run(
            command,
            input="\n".join(sources) + "\n",
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        return f"Bytecode was not compiled: cannot run {target.executable}: {exc}"
    if result.returncode == 0:
        return None
    output = (result.stdout + result.stderr).strip()
    return f"Some files were not compiled to bytecode by {target.executable}:\n{output}"


class _JournaledDestination(SchemeDictionaryDestination):
    """installer's destination, announcing each path before writing it and keeping a list."""

    def __init__(self, before_write: Callable[[str], None], **fields: Any) -> None:
        super().__init__(**fields)
        self.before_write = before_write
        self.written: list[str] = []
        self._folders: set[str] = set()
        self._contained = {root: Containment([root]) for root in self.scheme_dict.values()}
        self._roots = {scheme: os.path.abspath(root) for scheme, root in self.scheme_dict.items()}

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        """Write one file with plain ``os`` calls (installer's version builds several
        ``Path`` objects per file, a third of the install time on a 4,000-file lock)."""
        root = self._roots[scheme]
        file = os.path.abspath(os.path.join(root, path))
        # installer checks containment too, but only after we would have announced the path:
        # a journaled path outside the target would be deleted by a rollback.
        if not is_inside(file, [root]):
            raise ValueError(f"the wheel would write {path} outside of {root}")
        if file not in self._contained[self.scheme_dict[scheme]]:
            link, leads_to = link_out_of(file, root)
            raise ValueError(
                f"{link} is a symbolic link to {leads_to}, outside the environment; "
                "pip-hashsync neither writes nor deletes through it. Remove the link, then "
                "run again."
            )
        self.before_write(file)
        self.written.append(file)
        folder = os.path.dirname(file)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        if isinstance(stream, CachedFile) and self.hash_algorithm == "sha256":
            digest, size = stream.place(file)
        else:
            digest, size = self._write(file, stream)
        if is_executable:
            make_file_executable(Path(file))
        return RecordEntry(path, Hash(self.hash_algorithm, digest), size)

    def _write(self, file: str, stream: BinaryIO) -> tuple[str, int]:
        with open(file, "wb") as out:
            if isinstance(stream, LoadedFile) and self.hash_algorithm == "sha256":
                out.write(stream.data)
                digest, size = stream.sha256, len(stream.data)
            else:
                digest, size = copyfileobj_with_hashing(stream, out, self.hash_algorithm)
        return digest, size


def _check_scripts(source: WheelSource) -> None:
    """Raise ValueError naming the entry of ``entry_points.txt`` that no script can be made
    of: installer only asserts (a bare "AssertionError") or lets configparser's error out."""
    if "entry_points.txt" not in source.dist_info_filenames:
        return
    parser = configparser.ConfigParser(delimiters="=")  # read as installer reads it
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(source.read_dist_info("entry_points.txt"))
        for section in ("console_scripts", "gui_scripts"):
            entries = parser.items(section) if parser.has_section(section) else []
            for name, reference in entries:
                if not _SCRIPT_REFERENCE.fullmatch(reference):
                    raise ValueError(
                        f"the entry point '{name} = {reference}' in [{section}] of its "
                        "entry_points.txt is not a 'module:function' reference"
                    )
    except configparser.Error as exc:
        raise ValueError(f"its entry_points.txt cannot be read: {exc}") from None


def _scheme_dict(target: Target, distribution: str) -> dict[str, str]:
    """The target's scheme; headers go to a folder named for the distribution (pip's rule,
    standards §3.4)."""
    scheme = {key: target.paths[key] for key in ("purelib", "platlib", "scripts", "data")}
    scheme["headers"] = os.path.join(target.paths["headers"], distribution)
    return scheme


def _script_kind(target: Target) -> LauncherKind:
    """The launcher for the target's platform (installer's own helper asks the running one)."""
    if target.os_name != "nt":
        return "posix"
    try:
        return _WINDOWS_LAUNCHERS[target.platform]
    except KeyError:
        raise InstallError(
            f"No script launcher is known for the Windows platform {target.platform}."
        ) from None


def _metadata_files(wheel: WheelToInstall) -> dict[str, bytes]:
    """INSTALLER, REQUESTED, provenance and ``direct_url.json``, as ``.dist-info`` files."""
    provenance = json.dumps(wheel.provenance.to_json(), sort_keys=True)
    files = {"INSTALLER": INSTALLER_NAME, PROVENANCE_FILE: provenance.encode() + b"\n"}
    if wheel.requested:
        files["REQUESTED"] = b""
    if wheel.direct_url is not None:
        files["direct_url.json"] = json.dumps(wheel.direct_url, sort_keys=True).encode()
    return files
