"""The tox plugin: ``runner = pip-hashsync`` makes a tox environment's deps a real ``sync``.

tox finds this module through the ``tox`` entry-point group (``pip-hashsync[tox]``); it is
the only module that imports tox. The environment type is tox's virtualenv runner with
another installer, as tox-uv does it; environments with another ``runner`` are untouched.

- **deps**, every run: ``sync --venv <env>`` of the env's ``deps`` (and ``constraints``), so
  a removed line is uninstalled in place, drift is undone and an unchanged env takes the
  no-op path. tox's own bookkeeping of installed deps (which recreates the env when a line
  goes) is not used.
- **the package under test** and its dependencies: ``install`` (additive). Its dependencies
  are installed with the deps files read as well, so in hash-checking mode each must be a
  pinned, hashed line there (pip-hashsync names the missing ones); the package itself is
  installed outside hash-checking mode, as tox does it with pip (it was just built here).
  What these steps installed is named in a file in the env and kept by the next syncs.

Every step is a ``python -m pip_hashsync`` run through tox, so its output and exit code are
tox's: a failed step fails the env with pip-hashsync's message and exit code.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.error import URLError

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from tox.execute.request import StdinSource
from tox.plugin import impl
from tox.tox_env.errors import Fail
from tox.tox_env.installer import InstallArguments
from tox.tox_env.package import Package
from tox.tox_env.python.package import (
    EditableLegacyPackage,
    EditablePackage,
    PythonPathPackageWithDeps,
    SdistPackage,
    WheelPackage,
)
from tox.tox_env.python.pip.pip_install import Pip
from tox.tox_env.python.pip.req_file import PythonDeps
from tox.tox_env.python.virtual_env.runner import VirtualEnvRunner
from tox.tox_env.register import ToxEnvRegister

#: The ``runner`` value that selects this environment type.
RUNNER = "pip-hashsync"
#: The env's deps lines other than ``-r``/``-c`` (inline requirements, options), as a file.
DEPS_FILE = "pip-hashsync-deps.txt"
#: What each install step put in the env (the package under test, dependency groups), as
#: JSON: the step's name -> canonical project names. The deps sync keeps them and what they
#: need; each step replaces its own entry, so what a step no longer installs goes.
KEEP_FILE = "pip-hashsync-keep.json"
#: The steps that install the package under test (skipped with ``package = skip``).
_PACKAGE_STEPS = ("package", "package_deps")
_FILE_OPTIONS = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}


@impl
def tox_register_tox_env(register: ToxEnvRegister) -> None:
    """Offer the ``pip-hashsync`` run environment (the default runner stays tox's)."""
    register.add_run_env(HashsyncRunner)


class HashsyncRunner(VirtualEnvRunner):
    """A virtualenv run environment whose installer is pip-hashsync."""

    @staticmethod
    def id() -> str:
        return RUNNER

    @property
    def _allow_externals(self) -> list[str]:
        """The interpreter pip-hashsync runs with (tox's own) may run the install steps."""
        return [*super()._allow_externals, sys.executable]

    @property
    def installer(self) -> Pip:
        if self._installer is None:
            self._installer = HashsyncInstaller(self)
        return self._installer


class HashsyncInstaller(Pip):
    """pip's installer settings (``constraints``, ``list_dependencies_command``), with every
    install done by pip-hashsync."""

    def _register_config(self) -> None:
        super()._register_config()
        self._env.conf.add_config(
            keys=["hashsync_sync_args"],
            of_type=str,
            default="",
            desc="more arguments for pip-hashsync sync of the deps (e.g. --build-constraint FILE)",
        )
        self._env.conf.add_config(
            keys=["hashsync_install_args"],
            of_type=str,
            default="",
            desc="more arguments for pip-hashsync install of the package and its dependencies",
        )

    def install(self, arguments: InstallArguments, section: str, of_type: str) -> None:
        if isinstance(arguments, PythonDeps):
            self._sync(arguments)
        elif isinstance(arguments, Sequence):
            self._install(arguments, of_type)
        else:
            raise Fail(f"pip-hashsync cannot install {arguments!r}: list the lock in deps")

    def _sync(self, deps: PythonDeps) -> None:
        """Make the env match ``deps`` exactly, keeping what the install steps put there."""
        files = self._deps_arguments(deps)
        if not files:
            return  # nothing listed: as with pip, there is nothing to install
        kept = self._kept()
        if self._env.conf["package"] == "skip":
            kept = {step: names for step, names in kept.items() if step not in _PACKAGE_STEPS}
        keep = sorted({name for names in kept.values() for name in names})
        keep_args = [arg for name in keep for arg in ("--keep", name)]
        self._run(["sync", *files, *keep_args, *self._extra("hashsync_sync_args")], "deps")

    def _install(self, arguments: Sequence[Requirement | Package], of_type: str) -> None:
        """Install requirements and packages (tox's package under test, dependency groups)
        with ``install``; then name them in the keep file for the next deps syncs."""
        requirements = [a for a in arguments if isinstance(a, Requirement)]
        step = of_type if len(requirements) == len(arguments) else f"{of_type}_deps"
        names: set[str] = {canonicalize_name(r.name) for r in requirements}
        packages: list[str] = []
        folders: list[Path] = []
        for package in arguments:
            if isinstance(package, EditableLegacyPackage):
                packages += ["-e", str(package.path)]
                folders.append(package.path)
            elif isinstance(package, (WheelPackage, SdistPackage, EditablePackage)):
                names.add(_archive_project(package.path))
                if not self._installed_from(package.path):
                    packages.append(str(package.path))
            elif not isinstance(package, Requirement):
                raise Fail(f"pip-hashsync cannot install {package!r}")
            if isinstance(package, PythonPathPackageWithDeps):
                requirements += package.deps
        extra = self._extra("hashsync_install_args")
        if requirements:
            # Read with the deps files: in hash-checking mode each must be a line there, and
            # a missing one is named with this file's line.
            text = f"# what tox's {of_type} step asks for\n" + "".join(
                f"{r}\n" for r in requirements
            )
            listed = self._env_file(f"pip-hashsync-{step}.txt", text)
            deps = self._deps_arguments(self._env.conf["deps"])
            self._run(["install", *deps, "-r", listed, *extra], step)
        if packages:
            # Rebuilt each run: replaced even when its version is the same, as tox does with
            # pip, unless it is the very archive installed (then the env stays untouched).
            flags = ["--no-deps", "--no-require-hashes", "--force-reinstall"]
            self._run(["install", *flags, *packages, *extra], of_type)
            names |= self._projects_from(folders)
        kept = {**self._kept(), of_type: sorted(names)}
        self._env_file(KEEP_FILE, json.dumps(kept, indent=1, sort_keys=True))

    def _deps_arguments(self, deps: PythonDeps) -> list[str]:
        """The deps as ``sync`` arguments: ``-r``/``-c`` files as given (relative to the
        folder of ``tox.ini``, where every step runs), the other lines in a file in the env."""
        arguments: list[str] = []
        lines: list[str] = []
        try:
            deps_lines = deps.lines()
        except (ValueError, URLError) as exc:  # tox's own reading of the deps setting
            raise Fail(f"deps: {deps.redact(str(exc))}") from None
        for line in deps_lines:
            option, _, value = line.partition(" ")
            if option in _FILE_OPTIONS and value.strip():
                arguments += [_FILE_OPTIONS[option], *shlex.split(value)]
            else:
                lines.append(line)
        for constraint in self.constraints.lines():
            arguments += ["-c", constraint]
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            arguments += ["-r", self._env_file(DEPS_FILE, "\n".join(lines) + "\n")]
        return arguments

    def _env_file(self, name: str, text: str) -> str:
        """Write ``text`` to the env's file ``name`` (unless it holds it already); its path."""
        path = Path(self._env.env_dir, name)
        try:
            unchanged = path.read_text(encoding="utf-8") == text
        except OSError:
            unchanged = False
        if not unchanged:
            path.write_text(text, encoding="utf-8")
        return str(path)

    def _run(self, arguments: list[str], of_type: str) -> None:
        """Run a pip-hashsync command on the env, from the folder of ``tox.ini`` (relative
        paths in ``deps`` are relative to it)."""
        command = [sys.executable, "-m", "pip_hashsync", arguments[0], "--venv"]
        command += [str(self._env.env_dir), *arguments[1:]]
        folder = self._env.core["toxinidir"]
        run_id = f"install_{of_type}"
        outcome = self._env.execute(command, stdin=StdinSource.OFF, cwd=folder, run_id=run_id)
        outcome.assert_success()  # a failure ends the env with pip-hashsync's exit code

    def _extra(self, key: str) -> list[str]:
        return shlex.split(str(self._env.conf[key]))

    def _kept(self) -> dict[str, list[str]]:
        """The keep file's entries; none when it is missing or not what this plugin writes."""
        try:
            kept = json.loads(Path(self._env.env_dir, KEEP_FILE).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(kept, dict):
            return {}
        return {
            str(step): [str(name) for name in names]
            for step, names in kept.items()
            if isinstance(names, list)
        }

    def _installed_from(self, archive: Path) -> bool:
        """Whether the env's distribution of ``archive``'s project was installed from these
        very bytes (its provenance names their sha256): a wheel built again the same."""
        from pip_hashsync.environment.installed import scan
        from pip_hashsync.settings.request import file_sha256

        if archive.name.endswith(".whl"):
            dist = scan(self._site_dirs()).get(_archive_project(archive))
            provenance = dist.provenance() if dist else None
            return provenance is not None and provenance.sha256 == file_sha256(str(archive))
        return False  # an sdist is built again: its wheel is not known before

    def _projects_from(self, folders: list[Path]) -> set[str]:
        """The projects installed from ``folders`` (``-e``), by their ``direct_url.json``:
        a folder's name is not its project's."""
        from pip_hashsync.environment.installed import scan

        urls = {folder.resolve().as_uri() for folder in folders}
        if not urls:
            return set()
        return {
            key
            for key, dist in scan(self._site_dirs()).items()
            if (dist.direct_url() or {}).get("url") in urls
        }

    def _site_dirs(self) -> list[str]:
        env = self._env
        return sorted({str(env.env_site_package_dir()), str(env.env_site_package_dir_plat())})


def _archive_project(path: Path) -> str:
    """The canonical project name of a wheel or sdist, from its file name."""
    if path.name.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(path.name)[0])
    return canonicalize_name(parse_sdist_filename(path.name)[0])
