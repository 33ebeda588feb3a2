"""Effective settings: pip's config files, PIP_* variables, the command line and the
requirements files' options, merged with pip's precedence — and compared with pip's own
option parser on the same files and variables."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import write

from pip_hashsync.errors import ExitCode, InputError
from pip_hashsync.requirements.reader import FileOptions, RequirementsReader
from pip_hashsync.settings import _pipcompat
from pip_hashsync.settings.config import DEFAULT_INDEX_URL, Settings, load_settings


@dataclass(frozen=True)
class Places:
    """Where each kind of pip configuration file lives in this test."""

    global_file: Path
    legacy_file: Path
    user_file: Path
    site_prefix: Path
    env_file: Path

    @property
    def site_file(self) -> Path:
        return self.site_prefix / "pip.conf"

    def file(self, kind: str) -> Path:
        return {
            "global": self.global_file,
            "legacy": self.legacy_file,
            "user": self.user_file,
            "site": self.site_file,
            "env": self.env_file,
        }[kind]


@pytest.fixture
def places(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Places:
    """Config locations in the temp dir; PIP_CONFIG_FILE unset, so files are read again.

    The machine's ``/etc/pip.conf`` is still a global file (pip appends ``/etc`` on Linux);
    tests here only assert settings they write in a later file.
    """
    if sys.platform in ("win32", "darwin"):
        pytest.skip("the locations set up here are the Linux/XDG ones")
    monkeypatch.delenv("PIP_CONFIG_FILE")
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg-dirs"))
    return Places(
        global_file=tmp_path / "xdg-dirs" / "pip" / "pip.conf",
        legacy_file=isolated_env / ".pip" / "pip.conf",
        user_file=Path(os.environ["XDG_CONFIG_HOME"]) / "pip" / "pip.conf",
        site_prefix=tmp_path / "target-prefix",
        env_file=tmp_path / "named" / "pip.conf",
    )


def load(
    places: Places,
    cli: Mapping[str, Any] | None = None,
    file_options: FileOptions | None = None,
    isolated: bool = False,
) -> Settings:
    settings, _ = load_settings(
        cli or {}, file_options, site_prefix=str(places.site_prefix), isolated=isolated
    )
    return settings


# Files and their order ------------------------------------------------------------------


def test_devnull_config_file_gives_pips_defaults(tmp_path: Path) -> None:
    # The autouse fixture sets PIP_CONFIG_FILE=os.devnull.
    assert _pipcompat.config_files(str(tmp_path)) == []
    settings, warnings = load_settings({}, None, site_prefix=str(tmp_path))
    assert settings == Settings()
    assert settings.index_urls == (DEFAULT_INDEX_URL,)
    assert (settings.timeout, settings.retries, settings.keyring_provider) == (15.0, 5, "auto")
    assert warnings == []


def test_devnull_ignores_every_file(places: Places, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("global", "legacy", "user", "site", "env"):
        write(places.file(kind), f"[global]\nindex-url = https://{kind}.example/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert load(places).index_urls == (DEFAULT_INDEX_URL,)


@pytest.mark.pipcompat
def test_files_are_listed_in_pips_load_order(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _pipcompat.config_files(str(places.site_prefix))
    assert files == [
        ("global", str(places.global_file)),
        ("global", "/etc/pip.conf"),
        ("user", str(places.legacy_file)),
        ("user", str(places.user_file)),
        ("site", str(places.site_file)),
    ]
    write(places.env_file, "[global]\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(places.env_file))
    kinds = [kind for kind, _ in _pipcompat.config_files(str(places.site_prefix))]
    assert kinds == ["global", "global", "site", "env"]  # an existing named file skips user


@pytest.mark.pipcompat
@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (["global"], "global"),
        (["global", "legacy"], "legacy"),
        (["global", "legacy", "user"], "user"),
        (["global", "legacy", "user", "site"], "site"),
        (["global", "user", "site", "env"], "env"),
        (["global", "env"], "env"),
    ],
)
def test_later_files_override_earlier_ones(
    places: Places, monkeypatch: pytest.MonkeyPatch, present: list[str], expected: str
) -> None:
    for kind in present:
        write(places.file(kind), f"[global]\nindex-url = https://{kind}.example/simple\n")
    if "env" in present:
        monkeypatch.setenv("PIP_CONFIG_FILE", str(places.env_file))
    settings = load(places)
    assert settings.index_urls == (f"https://{expected}.example/simple",)
    assert settings.sources["index-url"] == f"{places.file(expected)} [global]"


@pytest.mark.pipcompat
def test_named_file_skips_user_files_but_not_global_and_site(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.global_file, "[global]\ntrusted-host = global.example\n")
    write(places.user_file, "[global]\nfind-links = /user\n")
    write(places.site_file, "[global]\nretries = 2\n")
    write(places.env_file, "[global]\ntimeout = 9\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(places.env_file))
    settings = load(places)
    assert (settings.trusted_hosts, settings.retries, settings.timeout) == (
        ("global.example",),
        2,
        9.0,
    )
    assert settings.find_links == ()


@pytest.mark.pipcompat
def test_missing_named_file_loads_user_files_and_warns(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\nfind-links = /user\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(places.env_file))  # does not exist
    settings, warnings = load_settings({}, None, site_prefix=str(places.site_prefix))
    assert settings.find_links == ("/user",)
    assert warnings == [
        f"PIP_CONFIG_FILE={places.env_file}: no such file; no configuration is read from it"
    ]


def test_developer_config_is_used_only_when_pointed_to(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    developer = write(
        places.env_file,
        """
        [global]
        extra-index-url = https://private.example/simple
        find-links = /home/dev/wheels
        """,
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(developer))
    settings = load(places)
    assert settings.index_urls == (DEFAULT_INDEX_URL, "https://private.example/simple")
    assert settings.find_links == ("/home/dev/wheels",)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert load(places) == Settings()


# Precedence --------------------------------------------------------------------------------


def test_command_line_beats_variables_beat_files(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\ntimeout = 30\nindex-url = https://file.example/simple\n")
    assert load(places).timeout == 30.0
    monkeypatch.setenv("PIP_TIMEOUT", "20")
    assert load(places).timeout == 20.0
    settings = load(places, {"timeout": "10", "index-url": "https://cli.example/simple"})
    assert (settings.timeout, settings.index_urls) == (10.0, ("https://cli.example/simple",))
    assert settings.sources["timeout"] == "command line"
    assert load(places).sources["timeout"] == "PIP_TIMEOUT"


def test_default_timeout_is_pips_name_for_timeout(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\ndefault-timeout = 40\n")
    assert load(places).timeout == 40.0
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "25")
    assert load(places).timeout == 25.0
    assert load(places, {"default-timeout": 5.0}).timeout == 5.0


def test_install_section_beats_global_section(places: Places) -> None:
    write(
        places.user_file, "[install]\ntimeout = 7\n[global]\ntimeout = 9\n[freeze]\ntimeout = 1\n"
    )
    settings = load(places)
    assert settings.timeout == 7.0
    assert settings.sources["timeout"] == f"{places.user_file} [install]"


def test_install_section_of_an_earlier_file_beats_global_of_a_later_one(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip pools [global] over all files, then [install] over all files (not file by file).
    write(places.global_file, "[install]\ntimeout = 7\n")
    write(places.env_file, "[global]\ntimeout = 9\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(places.env_file))
    assert load(places).timeout == 7.0


def test_command_line_lists_extend_configured_lists(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\nextra-index-url = https://file.example/simple\n")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://a.example/simple https://b.example/simple")
    settings = load(places, {"extra-index-url": ["https://cli.example/simple"], "find-links": "/w"})
    # The variable replaces the file's list; the command line adds to it (as in pip).
    assert settings.index_urls == (
        DEFAULT_INDEX_URL,
        "https://a.example/simple",
        "https://b.example/simple",
        "https://cli.example/simple",
    )
    assert settings.find_links == ("/w",)
    assert settings.sources["extra-index-url"] == "PIP_EXTRA_INDEX_URL, command line"


@pytest.mark.pipcompat
def test_isolated_ignores_variables_and_user_files(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\nindex-url = https://user.example/simple\n")
    write(places.site_file, "[global]\nfind-links = /site\n")
    monkeypatch.setenv("PIP_RETRIES", "9")
    settings = load(places, isolated=True)
    assert (settings.index_urls, settings.find_links, settings.retries) == (
        (DEFAULT_INDEX_URL,),
        ("/site",),
        5,
    )


def test_command_line_flags_only_switch_on(places: Places) -> None:
    write(places.user_file, "[global]\nno-index = yes\npre = true\n")
    settings = load(places, {"no-index": False, "pre": None, "prefer-binary": True})
    assert (settings.no_index, settings.pre, settings.prefer_binary) == (True, True, True)
    assert settings.index_urls == ()


# Values --------------------------------------------------------------------------------------


def test_multi_value_options_split_on_whitespace_and_newlines(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        places.user_file,
        """
        [global]
        extra_index_url =
            https://one.example/simple
            https://two.example/simple  https://three.example/simple
        --find-links = /a
          /b
        """,
    )
    monkeypatch.setenv("PIP_TRUSTED_HOST", " h1.example\th2.example:8080 ")
    monkeypatch.setenv("PIP_CONSTRAINT", "c1.txt c2.txt")
    settings = load(places)
    assert settings.index_urls[1:] == (
        "https://one.example/simple",
        "https://two.example/simple",
        "https://three.example/simple",
    )
    assert settings.find_links == ("/a", "/b")
    assert settings.trusted_hosts == ("h1.example", "h2.example:8080")
    assert settings.constraints == ("c1.txt", "c2.txt")


def test_booleans_and_pips_no_cache_dir_quirk(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\nno-index = yes\nno-input = on\nno-cache-dir = false\n")
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("PIP_BREAK_SYSTEM_PACKAGES", "TRUE")
    settings = load(places)
    assert settings.no_index is False  # the variable's 0 overrides the file's yes
    assert settings.index_urls == (DEFAULT_INDEX_URL,)
    assert settings.no_input and settings.break_system_packages
    assert settings.no_cache  # pip disables the cache for any valid no-cache-dir value
    with_dir = load(places, {"cache-dir": "~/cache"})  # the later of the two wins
    assert (with_dir.no_cache, with_dir.cache_dir) == (False, str(Path.home() / "cache"))


def test_empty_value_in_a_later_file_unsets(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.global_file, "[global]\nproxy = http://proxy.example:3128\n")
    write(places.user_file, "[global]\nproxy =\n")
    monkeypatch.setenv("PIP_KEYRING_PROVIDER", "")
    settings = load(places)
    assert (settings.proxy, settings.keyring_provider) == (None, "auto")


def test_proxy_none_empty_and_no_proxy_env(places: Places) -> None:
    write(places.user_file, "[global]\nproxy = http://proxy.example:3128\n")
    assert load(places).proxy == "http://proxy.example:3128"
    assert load(places, {"proxy": ""}).proxy == ""
    write(places.user_file, "[global]\nno-proxy-env = yes\n")
    assert load(places).proxy == ""


def test_binary_name_sets_follow_pips_all_and_none_rules(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(places.user_file, "[global]\nno-binary = Foo_Bar,baz\n[install]\nonly-binary = baz\n")
    settings = load(places)
    assert (settings.no_binary, settings.only_binary) == (
        frozenset({"foo-bar"}),
        frozenset({"baz"}),
    )
    monkeypatch.setenv("PIP_ONLY_BINARY", ":all:")
    settings = load(places, {"no-binary": [":none:", "lxml"]})
    assert (settings.only_binary, settings.no_binary) == (frozenset({":all:"}), frozenset({"lxml"}))


def test_paths_expand_the_home_directory(places: Places, isolated_env: Path) -> None:
    write(places.user_file, "[global]\ncert = ~/ca.pem\nclient-cert = ~/client.pem\n")
    settings = load(places)
    assert (settings.cert, settings.client_cert) == (
        str(isolated_env / "ca.pem"),
        str(isolated_env / "client.pem"),
    )


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("timeout", "abc", "expected a number of seconds"),
        ("timeout", "-1", "expected a positive number of seconds"),
        ("retries", "many", "expected a whole number"),
        ("keyring-provider", "foo", "expected one of auto, disabled, import, subprocess"),
        ("no-index", "maybe", "expected a boolean"),
        ("no-cache-dir", "maybe", "expected a boolean"),
    ],
)
def test_invalid_values_name_their_source_and_value(
    places: Places, monkeypatch: pytest.MonkeyPatch, key: str, value: str, reason: str
) -> None:
    write(places.user_file, f"[install]\n{key} = {value}\n")
    with pytest.raises(InputError) as raised:
        load(places)
    assert raised.value.exit_code == ExitCode.BAD_INPUT
    assert str(raised.value).startswith(f"{places.user_file} [install]: invalid value {value!r}")
    assert reason in str(raised.value)

    places.user_file.unlink()
    variable = "PIP_" + key.upper().replace("-", "_")
    monkeypatch.setenv(variable, value)
    with pytest.raises(InputError, match=f"^{variable}: invalid value '{value}' for "):
        load(places)


def test_invalid_command_line_values_and_all_errors_at_once(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_RETRIES", "x")
    with pytest.raises(InputError) as raised:
        load(places, {"timeout": "abc", "keyring-provider": "foo"})
    assert str(raised.value).splitlines() == [
        "PIP_RETRIES: invalid value 'x' for retries: expected a whole number",
        "command line: invalid value 'abc' for --timeout: expected a number of seconds",
        "command line: invalid value 'foo' for --keyring-provider: "
        "expected one of auto, disabled, import, subprocess",
    ]


def test_unreadable_config_file_is_an_input_error(places: Places) -> None:
    write(places.user_file, "index-url = https://no-section.example/simple\n")
    with pytest.raises(InputError, match=f"^{places.user_file}: not a valid pip configuration"):
        load(places)
    write(places.user_file, "[global]\ntimeout = 1\ntimeout = 2\n")
    with pytest.raises(InputError, match="already exists"):
        load(places)


def test_unsupported_settings_warn(places: Places, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        places.user_file, "[install]\ntarget = /somewhere\nsource-dir = /src\n[freeze]\nuser = 1\n"
    )
    monkeypatch.setenv("PIP_USER", "yes")
    monkeypatch.setenv("PIP_ROOT", "/root")
    _, warnings = load_settings(
        {"prefix": "/p", "use-deprecated": ["legacy-certs"], "user": False},
        None,
        site_prefix=str(places.site_prefix),
    )
    ignored = "is not supported by pip-hashsync and is ignored"
    assert sorted(warnings) == sorted(
        [
            f"{places.user_file} [install]: --target {ignored}",
            f"{places.user_file} [install]: --src {ignored}",
            f"PIP_USER: --user {ignored}",
            f"PIP_ROOT: --root {ignored}",
            f"command line: --prefix {ignored}",
            f"command line: --use-deprecated {ignored}",
        ]
    )
    monkeypatch.setenv("PIP_USER", "0")
    monkeypatch.delenv("PIP_ROOT")
    places.user_file.unlink()
    assert load_settings({}, None, site_prefix=str(places.site_prefix))[1] == []


# Requirements-file options on top --------------------------------------------------------


def file_options(workdir: Path, text: str) -> FileOptions:
    result = RequirementsReader().read([str(write(workdir / "requirements.txt", text))])
    assert result.problems == []
    return result.options


def test_file_index_url_replaces_every_index(places: Places, workdir: Path) -> None:
    write(places.user_file, "[global]\nextra-index-url = https://conf.example/simple\n")
    options = file_options(
        workdir,
        "-i https://file.example/simple\n--extra-index-url https://file-extra.example/simple\n",
    )
    settings = load(places, {"extra-index-url": "https://cli.example/simple"}, options)
    assert settings.index_urls == (
        "https://file.example/simple",
        "https://file-extra.example/simple",
    )
    assert settings.sources["index-url"] == "requirements file"


def test_file_extra_index_url_extends(places: Places, workdir: Path) -> None:
    options = file_options(workdir, "--extra-index-url https://file.example/simple\n")
    settings = load(places, {"index-url": "https://cli.example/simple"}, options)
    assert settings.index_urls == ("https://cli.example/simple", "https://file.example/simple")
    assert settings.sources["index-url"] == "command line"
    assert settings.sources["extra-index-url"] == "requirements file"


@pytest.mark.parametrize("from_file", [True, False])
def test_no_index_wins_over_any_file_index(places: Places, workdir: Path, from_file: bool) -> None:
    no_index = "--no-index\n" if from_file else ""
    options = file_options(
        workdir, f"{no_index}-i https://file.example/simple\n--extra-index-url https://x.example/\n"
    )
    settings = load(places, {} if from_file else {"no-index": True}, options)
    assert (settings.no_index, settings.index_urls) == (True, ())


def test_file_find_links_trusted_hosts_and_flags_add(places: Places, workdir: Path) -> None:
    (workdir / "wheels").mkdir()
    write(places.user_file, "[global]\nfind-links = /conf\ntrusted-host = conf.example\n")
    options = file_options(
        workdir,
        "-f wheels\n--trusted-host file.example\n--pre\n--prefer-binary\n--require-hashes\n",
    )
    settings = load(places, None, options)
    assert settings.find_links == ("/conf", str(workdir / "wheels"))
    assert settings.trusted_hosts == ("conf.example", "file.example")
    assert settings.pre and settings.prefer_binary and settings.require_hashes
    assert settings.sources["require-hashes"] == f"{workdir / 'requirements.txt'}:5"
    assert settings.sources["find-links"] == f"{places.user_file} [global], requirements file"


@pytest.mark.parametrize(
    ("configured", "lines", "only", "no"),
    [
        ("no-binary = foo", "--only-binary foo\n", {"foo"}, set()),
        ("no-binary = foo", "--only-binary :all:\n--no-binary bar\n", {":all:"}, {"bar"}),
        ("only-binary = :all:", "--no-binary Bar_Baz\n", {":all:"}, {"bar-baz"}),
        ("only-binary = a", "--no-binary :all:\n--only-binary b\n", {"b"}, {":all:"}),
    ],
)
def test_file_binary_options_apply_on_top_with_pips_rules(
    places: Places, workdir: Path, configured: str, lines: str, only: set[str], no: set[str]
) -> None:
    write(places.user_file, f"[global]\n{configured}\n")
    settings = load(places, None, file_options(workdir, lines))
    assert (set(settings.only_binary), set(settings.no_binary)) == (only, no)


# pip's own location helpers, and our copy of them ----------------------------------------


@pytest.mark.pipcompat
@pytest.mark.parametrize(
    ("xdg", "since"),
    [
        ({}, 0),
        ({"XDG_CONFIG_DIRS": "/one:/two/", "XDG_CONFIG_HOME": "/conf-home"}, 0),
        # Relative and blank-padded values are ignored or stripped since pip 26 (its
        # platformdirs 4.3+); older pips use them as they are, and so do we with those pips.
        ({"XDG_CONFIG_DIRS": "relative:/abs", "XDG_CONFIG_HOME": "relative"}, 26),
        ({"XDG_CONFIG_DIRS": " ", "XDG_CONFIG_HOME": " /spaced "}, 26),
    ],
)
def test_builtin_rules_match_pips_helpers(
    monkeypatch: pytest.MonkeyPatch, xdg: dict[str, str], since: int
) -> None:
    """Our copy follows pip 26.3; every pip agrees with it on well-formed values."""
    if sys.platform != "linux":
        pytest.skip("compares the Linux rules")
    if int(importlib.metadata.version("pip").split(".")[0]) < since:
        pytest.skip(f"these values are read as the copy reads them since pip {since}")
    for name in ("XDG_CONFIG_DIRS", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in xdg.items():
        monkeypatch.setenv(name, value)
    from pip._internal.utils import appdirs

    pip_dirs = (appdirs.site_config_dirs("pip"), appdirs.user_config_dir("pip"))
    assert _pipcompat.builtin_config_dirs("linux", os.environ) == pip_dirs


@pytest.mark.pipcompat
def test_config_files_without_pip_are_the_same(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_pip = _pipcompat.config_files(str(places.site_prefix))
    monkeypatch.setitem(sys.modules, "pip", None)  # as if pip were not installed
    assert _pipcompat.config_files(str(places.site_prefix)) == with_pip


@pytest.mark.pipcompat
def test_changed_pip_helper_falls_back(places: Places, monkeypatch: pytest.MonkeyPatch) -> None:
    from pip._internal.utils import appdirs

    expected = _pipcompat.config_files(str(places.site_prefix))
    monkeypatch.setattr(appdirs, "user_config_dir", lambda: "/changed")
    assert _pipcompat.config_files(str(places.site_prefix)) == expected
    monkeypatch.delattr(appdirs, "site_config_dirs")
    assert _pipcompat.config_files(str(places.site_prefix)) == expected


def test_builtin_rules_for_windows_and_macos(tmp_path: Path) -> None:
    windows = {"APPDATA": "C:\\Users\\u\\AppData\\Roaming", "ALLUSERSPROFILE": "C:\\ProgramData"}
    assert _pipcompat.builtin_config_dirs("win32", windows) == (
        ["C:\\ProgramData\\pip"],
        "C:\\Users\\u\\AppData\\Roaming\\pip",
    )
    home = str(tmp_path)
    global_dirs, user_dir = _pipcompat.builtin_config_dirs("darwin", {"HOME": home})
    assert global_dirs[-1] == "/Library/Application Support/pip"
    assert user_dir == f"{home}/.config/pip"  # Application Support/pip does not exist
    (tmp_path / "Library" / "Application Support" / "pip").mkdir(parents=True)
    assert _pipcompat.builtin_config_dirs("darwin", {"HOME": home})[1] == (
        f"{home}/Library/Application Support/pip"
    )
    xdg = {"HOME": home, "XDG_DATA_DIRS": "/d1:/d2", "XDG_DATA_HOME": f"{home}/data"}
    assert _pipcompat.builtin_config_dirs("darwin", xdg) == (
        ["/d1/pip", "/d2/pip"],
        f"{home}/.config/pip",
    )


# pip as the oracle --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    files: dict[str, str]
    env: dict[str, str]
    args: list[str]
    cli: dict[str, Any]


CASES = {
    "every layer": Case(
        files={
            "global": "[global]\nindex-url = https://global.example/simple\n"
            "extra-index-url =\n    https://g1.example/simple\n    https://g2.example/simple\n"
            "timeout = 30\n",
            "legacy": "[global]\nfind-links = /legacy\nretries = 2\n",
            "user": "[install]\nextra-index-url = https://user.example/simple\n"
            "find-links = /user-a /user-b\n",
            "site": "[global]\ntrusted-host = site.example\ncert = ~/ca.pem\n",
        },
        env={"PIP_TRUSTED_HOST": "h1.example h2.example:8080", "PIP_DEFAULT_TIMEOUT": "12"},
        args=["--extra-index-url", "https://cli.example/simple", "-f", "/cli", "--retries", "4"],
        cli={
            "extra-index-url": ["https://cli.example/simple"],
            "find-links": ["/cli"],
            "retries": 4,
        },
    ),
    "named file": Case(
        files={
            "global": "[install]\ntimeout = 7\nonly-binary = :all:\n",
            "user": "[global]\nindex-url = https://user.example/simple\n",
            "site": "[install]\ntrusted-host = site.example\nno-binary = foo,Bar_Baz\n",
            "env": "[global]\ntimeout = 9\nfind-links = /env\nindex-url = https://env.example/simple\n",
        },
        env={},
        args=[],
        cli={},
    ),
    "isolated": Case(
        files={
            "user": "[global]\nindex-url = https://user.example/simple\n",
            "site": "[global]\nfind-links = /site\n",
        },
        env={"PIP_INDEX_URL": "https://env.example/simple", "PIP_TIMEOUT": "3"},
        args=["--isolated"],
        cli={},
    ),
    "flags and empty values": Case(
        files={
            "global": "[global]\nno-index = yes\nproxy = http://proxy.example:3128\n",
            "user": "[global]\nproxy =\npre = on\nno-cache-dir = false\n"
            "keyring-provider = import\n",
        },
        env={"PIP_NO_INDEX": "0", "PIP_PREFER_BINARY": "1", "PIP_FIND_LINKS": "/a /b"},
        args=["--no-binary", ":all:", "--only-binary", "wheelonly", "--trusted-host", "t.example"],
        cli={"no-binary": ":all:", "only-binary": ["wheelonly"], "trusted-host": ["t.example"]},
    ),
}


def pip_view(args: list[str], site_prefix: Path) -> dict[str, Any]:
    """What pip's own install command makes of the same files, variables and arguments."""
    from pip._internal.commands import create_command

    command = create_command("install", isolated="--isolated" in args)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "prefix", str(site_prefix))  # the site file is the target's
        options, _ = command.parse_args(args)
    return {
        "index_urls": [] if options.no_index else [options.index_url, *options.extra_index_urls],
        "find_links": options.find_links,
        "trusted_hosts": options.trusted_hosts,
        "timeout": options.timeout,
        "retries": options.retries,
        "cert": options.cert,
        "proxy": options.proxy,
        "keyring_provider": options.keyring_provider,
        "no_index": bool(options.no_index),
        "pre": bool(options.pre),
        "prefer_binary": bool(options.prefer_binary),
        "only_binary": options.format_control.only_binary,
        "no_binary": options.format_control.no_binary,
        "no_cache": options.cache_dir is False,
    }


def our_view(settings: Settings) -> dict[str, Any]:
    return {
        "index_urls": list(settings.index_urls),
        "find_links": list(settings.find_links),
        "trusted_hosts": list(settings.trusted_hosts),
        "timeout": settings.timeout,
        "retries": settings.retries,
        "cert": settings.cert,
        "proxy": settings.proxy,
        "keyring_provider": settings.keyring_provider,
        "no_index": settings.no_index,
        "pre": settings.pre,
        "prefer_binary": settings.prefer_binary,
        "only_binary": set(settings.only_binary),
        "no_binary": set(settings.no_binary),
        "no_cache": settings.no_cache,
    }


@pytest.mark.parametrize("name", list(CASES))
def test_same_settings_as_pip(places: Places, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    case = CASES[name]
    for kind, text in case.files.items():
        write(places.file(kind), text)
    if "env" in case.files:
        monkeypatch.setenv("PIP_CONFIG_FILE", str(places.env_file))
    for variable, value in case.env.items():
        monkeypatch.setenv(variable, value)
    settings = load(places, case.cli, isolated="--isolated" in case.args)
    assert our_view(settings) == pip_view(case.args, places.site_prefix)


@dataclass(frozen=True)
class FileCase:
    config: str
    args: list[str]
    cli: dict[str, Any]
    lines: str


FILE_CASES = {
    "index replaced": FileCase(
        config="[global]\nextra-index-url = https://conf.example/simple\n",
        args=["--extra-index-url", "https://cli.example/simple", "--trusted-host", "c.example"],
        cli={"extra-index-url": "https://cli.example/simple", "trusted-host": "c.example"},
        lines="-i https://file.example/simple\n--extra-index-url https://fx.example/simple\n"
        "-f wheels\n--trusted-host f.example:8443\n--require-hashes\n",
    ),
    "no index": FileCase(
        config="[global]\nindex-url = https://conf.example/simple\n",
        args=["--no-index"],
        cli={"no-index": True},
        lines="-i https://file.example/simple\n--extra-index-url https://fx.example/simple\n"
        "-f /abs/wheels\n",
    ),
    "file no-index": FileCase(
        config="[install]\nfind-links = /conf\n",
        args=["-i", "https://cli.example/simple"],
        cli={"index-url": "https://cli.example/simple"},
        lines="--no-index\n--pre\n-f wheels\n",
    ),
    "binaries": FileCase(
        config="[global]\nno-binary = foo\n",
        args=["--only-binary", "bar"],
        cli={"only-binary": "bar"},
        lines="--only-binary :all:\n--no-binary Baz\n--extra-index-url https://fx.example/\n",
    ),
}


def pip_view_after_file(args: list[str], requirements: Path) -> dict[str, Any]:
    """pip's finder and options after pip reads the requirements file with them."""
    from pip._internal.commands import create_command
    from pip._internal.req.req_file import parse_requirements

    command = create_command("install")
    options, _ = command.parse_args(args)
    with command.main_context():
        session = command.get_default_session(options)
        finder = command._build_package_finder(options=options, session=session)
        list(parse_requirements(str(requirements), session, finder=finder, options=options))
        trusted = [f"{h}:{p}" if p else h for h, p in session.pip_trusted_origins]
    return {
        "index_urls": finder.index_urls,
        "find_links": finder.find_links,
        "trusted_hosts": trusted,
        "only_binary": options.format_control.only_binary,
        "no_binary": options.format_control.no_binary,
        "pre": ":all:" in finder.release_control.all_releases if finder.release_control else False,
        "require_hashes": bool(options.require_hashes),
    }


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_same_settings_as_pip_after_requirements_file(
    places: Places, workdir: Path, name: str
) -> None:
    case = FILE_CASES[name]
    write(places.user_file, case.config)
    (workdir / "wheels").mkdir()
    requirements = write(workdir / "requirements.txt", case.lines)
    options = RequirementsReader().read([str(requirements)]).options
    settings = load(places, case.cli, options)
    ours = {
        "index_urls": list(settings.index_urls),
        "find_links": list(settings.find_links),
        "trusted_hosts": list(settings.trusted_hosts),
        "only_binary": set(settings.only_binary),
        "no_binary": set(settings.no_binary),
        "pre": settings.pre,
        "require_hashes": settings.require_hashes,
    }
    assert ours == pip_view_after_file(case.args, requirements)


# Build settings (issue 14) --------------------------------------------------------------


def test_build_constraints_as_pip_merges_them(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip 26.3 on the same files: PIP_BUILD_CONSTRAINT replaces the files' list (pip then
    never opens a.txt), and --build-constraint adds to what is configured."""
    write(places.user_file, "[global]\nbuild-constraint = a.txt\n")
    assert load(places).build_constraints == ("a.txt",)
    monkeypatch.setenv("PIP_BUILD_CONSTRAINT", "b.txt b2.txt")
    assert load(places).build_constraints == ("b.txt", "b2.txt")
    settings = load(places, {"build-constraint": ["c.txt", "d.txt"]})
    assert settings.build_constraints == ("b.txt", "b2.txt", "c.txt", "d.txt")
    assert settings.sources["build-constraint"] == "PIP_BUILD_CONSTRAINT, command line"


def test_config_settings_accumulate_over_every_source(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip's callback option: each source adds one KEY=VALUE (a value is not split), and a
    key given again becomes a list for the backend."""
    from pip_hashsync.settings.config import backend_config_settings

    write(places.user_file, "[global]\nconfig-settings = a=1 x\n[install]\nconfig-settings = b=2\n")
    monkeypatch.setenv("PIP_CONFIG_SETTINGS", "a=3")
    settings = load(places, {"config-settings": ["c=", "a=4"]})
    assert settings.config_settings == (("a", "1 x"), ("b", "2"), ("a", "3"), ("c", ""), ("a", "4"))
    assert backend_config_settings(settings.config_settings) == {
        "a": ["1 x", "3", "4"],
        "b": "2",
        "c": "",
    }
    # A requirement line's own --config-settings replace the keys they name, for its build.
    line = RequirementsReader().read([], arguments=["demo==1.0 -C a=line -C d=1 -C d=2"])
    pairs = line.requirements[0].config_settings
    assert backend_config_settings(settings.config_settings, pairs) == {
        "a": "line",
        "b": "2",
        "c": "",
        "d": ["1", "2"],
    }


def test_a_config_setting_without_equals_is_bad_input(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_CONFIG_SETTINGS", "novalue")
    with pytest.raises(
        InputError, match=r"PIP_CONFIG_SETTINGS: invalid value 'novalue'.*KEY=VALUE"
    ):
        load(places)
