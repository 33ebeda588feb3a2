"""One configured index down (issue 15 item 8): the run fails fast, naming the index and
where it was configured, and ``-v`` shows retries as they happen."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import urllib3.util.connection
from distbuilder import build_wheel, sha256_of
from helpers import write
from indexserver import IndexServer

from pip_hashsync.cli import main


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count_connections(monkeypatch: pytest.MonkeyPatch, port: int) -> list[int]:
    """Connection attempts to ``port``, counted as urllib3 makes them (and still made)."""
    attempts: list[int] = []
    connect: Callable[..., socket.socket] = urllib3.util.connection.create_connection

    def counting(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        if address[1] == port:
            attempts.append(port)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    return attempts


@pytest.mark.parametrize("where", ["command line", "variable", "config file"])
def test_a_down_index_fails_fast_naming_the_index_and_where_it_was_configured(
    where: str,
    workdir: Path,
    venv: Path,
    dist_dir: Path,
    index_server: IndexServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The loopback index has every file, the other configured index is a closed port: exit
    4 (indexes are pooled, so a missing answer could hide a better or a malicious file),
    naming the down index and its setting, after two connection attempts — not pip's six
    with 7.5 s of backoff. pip 26.3 retries the refused connection 5 times ("WARNING:
    Retrying (Retry(total=4, …)) after connection broken by 'NewConnectionError…'", about
    8 s), then skips that index ("from versions: none" when both are down) and installs
    from the one that answered; uv (not run here) fails, naming the URL but not the
    setting."""
    wheel = build_wheel(dist_dir, "alpha", "1.0")
    write(workdir / "r.txt", f"alpha==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    port = closed_port()
    down = f"http://127.0.0.1:{port}/simple"
    argv = ["sync", "--dry-run", "-v", "r.txt", "--venv", str(venv), "--no-input"]
    if where == "command line":
        argv += ["-i", down, "--extra-index-url", index_server.index_url]
        named = "--index-url on the command line"
    elif where == "variable":
        monkeypatch.setenv("PIP_EXTRA_INDEX_URL", down)
        argv += ["-i", index_server.index_url]
        named = "--extra-index-url in PIP_EXTRA_INDEX_URL"
    else:
        config = write(workdir / "pip.conf", f"[global]\nextra-index-url = {down}\n")
        monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
        argv += ["-i", index_server.index_url]
        named = f"--extra-index-url in {config} [global]"
    attempts = count_connections(monkeypatch, port)
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert f"the index {down} ({named}) could not be read" in err, err
    assert "connection refused" in err.lower()
    assert len(attempts) == 2
    assert err.count("retrying") == 1
    assert f"retrying {down}/alpha/ (retry 1 of 1) in 0.0 s: " in err


@pytest.mark.parametrize("verbose", [True, False])
def test_retries_are_shown_as_they_happen_with_v(
    verbose: bool,
    workdir: Path,
    venv: Path,
    dist_dir: Path,
    index_server: IndexServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``-v`` shows each retry when it happens (URL, count, wait, reason); without it the
    retries stay silent unless they fail. pip 26.3 prints each retry as a warning, -v or
    not; uv says nothing until it fails."""
    wheel = build_wheel(dist_dir, "alpha", "1.0")
    write(workdir / "r.txt", f"alpha==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    index_server.fail_first = 2
    argv = ["sync", "--dry-run", "r.txt", "--venv", str(venv), "-i", index_server.index_url]
    assert main([*argv, "--no-input", *(["-v"] if verbose else [])]) == 0
    retries = [line for line in capsys.readouterr().err.splitlines() if "retrying" in line]
    if verbose:
        page = f"{index_server.index_url}/alpha/"
        assert [line.split(" in ")[0] for line in retries] == [
            f"retrying {page} (retry 1 of 5)",
            f"retrying {page} (retry 2 of 5)",
        ]
        assert all(line.endswith("HTTP 503") for line in retries), retries
    else:
        assert retries == []
