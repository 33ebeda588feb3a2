"""A wheel the lock allows may still be hostile or inconsistent (issue 13, items 5–7): a
member that inflates beyond what it declares, an index whose PEP 658 metadata contradicts
the wheel, a ``name @ URL`` line naming another project's file, a wheel whose METADATA or
``.dist-info`` contradicts its filename. Each is refused before the environment changes
(or rolled back), with exit 3 (2 for a line that contradicts itself), and the environment
is left exactly as it was. Hostile archives are written byte by byte here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from distbuilder import build_wheel, sha256_of
from helpers import measured_sync, write
from indexserver import IndexServer
from test_sync_apply import lock_for, make_venv, site_packages, snapshot

from pip_hashsync.cli import main
from pip_hashsync.environment.members import BadMember, open_member
from pip_hashsync.environment.unpacked import read_member
from pip_hashsync.index.metadata import IntegrityError, metadata_from_archive

MiB = 1024 * 1024
#: What a bomb member says it holds; it inflates to this plus :data:`BOMB_SIZE` zeros.
DECLARED = b"\0" * 1000
BOMB_SIZE = 256 * MiB

Sync = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sync(
    venv: Path, index_server: IndexServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> Sync:
    """``sync(*args)`` in-process into ``venv`` -> (exit code, out, err)."""
    cache = workdir.parent / "cache"

    def run(*args: str) -> tuple[int, str, str]:
        argv = ["sync", *args, "--venv", str(venv), "-i", index_server.index_url]
        code = main([*argv, "--cache-dir", str(cache), "--no-input"])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


# -- hostile zip archives, written byte by byte ----------------------------------------------


@dataclass(frozen=True)
class RawMember:
    """A member as it is written: ``payload`` as stored, and what its headers claim."""

    name: str
    payload: bytes
    method: int
    size: int
    crc: int

    @classmethod
    def stored(cls, name: str, data: bytes) -> RawMember:
        return cls(name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))


def write_raw_zip(path: Path, members: list[RawMember]) -> Path:
    """A zip whose local and central headers say what each member claims, nothing checked."""
    body, central = bytearray(), bytearray()
    for member in members:
        name, offset = member.name.encode(), len(body)
        sizes = (member.crc, len(member.payload), member.size)
        body += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, member.method, 0, 0x21, *sizes,
                            len(name), 0)  # fmt: skip
        body += name + member.payload
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, member.method, 0, 0x21,
                               *sizes, len(name), 0, 0, 0, 0, 0o100644 << 16, offset)  # fmt: skip
        central += name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(body), 0)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(body + central + end))
    return path


@functools.cache
def deflated_bomb(head: bytes) -> bytes:
    """A raw deflate stream of ``head`` followed by :data:`BOMB_SIZE` zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    pieces = [compressor.compress(head)]
    zeros = b"\0" * MiB
    pieces += [compressor.compress(zeros) for _ in range(BOMB_SIZE // MiB)]
    return b"".join([*pieces, compressor.flush()])


def record_row(name: str, data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return f"{name},sha256={base64.urlsafe_b64encode(digest).rstrip(b'=').decode()},{len(data)}\n"


def bomb_wheel(out_dir: Path, name: str, bomb_in: str) -> Path:
    """``{name}-1.0-py3-none-any.whl`` whose member ``bomb_in`` ("module" or "METADATA")
    declares its genuine size but inflates to 256 MiB more."""
    info = f"{name}-1.0.dist-info"
    contents = {
        f"{name}/__init__.py": b'__version__ = "1.0"\n',
        f"{name}/data.bin": DECLARED,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    bomb = f"{info}/METADATA" if bomb_in == "METADATA" else f"{name}/data.bin"
    members = [RawMember.stored(path, data) for path, data in contents.items() if path != bomb]
    data = contents[bomb]
    members.append(
        RawMember(bomb, deflated_bomb(data), zipfile.ZIP_DEFLATED, len(data), zlib.crc32(data))
    )
    record = "".join(record_row(path, data) for path, data in contents.items())
    members.append(RawMember.stored(f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    return write_raw_zip(out_dir / f"{name}-1.0-py3-none-any.whl", members)


# -- item 5: decompression bombs ---------------------------------------------------------------


@pytest.mark.parametrize("bomb_in", ["module", "METADATA"])
def test_a_member_inflating_beyond_its_declared_size_is_refused_in_flat_memory(
    bomb_in: str, venv: Path, index_server: IndexServer, workdir: Path, tmp_path: Path
) -> None:
    """The bomb's headers claim 1,000 bytes (METADATA: its real size); its deflate stream
    gives 256 MiB more. Peak memory stays near an honest sync's; exit 3; nothing changed.
    In METADATA (no PEP 658 file served) it is met while planning, in a module while
    installing (rolled back)."""
    cache = tmp_path / "cache"
    calm = build_wheel(index_server.root, "calm", "1.0", files={"calm/data.bin": "\0" * 1000})
    write(Path("requirements.txt"), lock_for(calm))
    code, err, baseline = measured_sync(make_venv(tmp_path / "baseline"), cache, index_server)
    assert code == 0, err

    index_server.metadata = bomb_in != "METADATA"
    bomb = bomb_wheel(index_server.root, "boom", bomb_in)
    write(Path("requirements.txt"), lock_for(bomb))
    before = snapshot(venv)
    code, err, peak = measured_sync(venv, cache, index_server)
    assert code == 3, err
    assert "more than the" in err and bomb.name in err, err
    assert peak - baseline < 100 * MiB, (peak, baseline)
    assert snapshot(venv) == before


def test_an_absurd_compression_ratio_is_refused_before_inflating(tmp_path: Path) -> None:
    """A member declaring 64 MiB of zeros in about 64 KiB (1000:1, the ceiling of deflate
    reached only by one repeated byte) is refused from its headers alone."""
    archive = tmp_path / "ratio.zip"
    zeros = b"\0" * (64 * MiB)
    with zipfile.ZipFile(archive, "w") as writing:
        writing.writestr("zeros.bin", zeros, zipfile.ZIP_DEFLATED)
        writing.writestr("text.txt", b"abc " * 100_000, zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(archive) as reading:
        with pytest.raises(zipfile.BadZipFile, match="compression ratio"):
            read_member(reading, reading.getinfo("zeros.bin"))
        assert read_member(reading, reading.getinfo("text.txt")) == b"abc " * 100_000


def test_a_stored_member_longer_than_it_declares_is_refused(tmp_path: Path) -> None:
    archive = write_raw_zip(
        tmp_path / "stored.zip",
        [RawMember("long.txt", b"x" * 5000, zipfile.ZIP_STORED, 10, zlib.crc32(b"x" * 10))],
    )
    with zipfile.ZipFile(archive) as reading, pytest.raises(zipfile.BadZipFile, match=r"long\.txt"):
        read_member(reading, reading.getinfo("long.txt"))


def test_a_streamed_member_is_inflated_a_step_at_a_time_and_checked(tmp_path: Path) -> None:
    """Members too large to hold whole are streamed with the same checks."""
    text = b"".join(b"line %d\n" % i for i in range(400_000))  # about 4.5 MiB
    bomb = deflated_bomb(DECLARED)
    archive = write_raw_zip(
        tmp_path / "streamed.zip",
        [
            RawMember("text", zlib.compress(text)[2:-4], zipfile.ZIP_DEFLATED, len(text),
                      zlib.crc32(text)),
            RawMember("bomb", bomb, zipfile.ZIP_DEFLATED, len(DECLARED), zlib.crc32(DECLARED)),
        ],
    )  # fmt: skip
    with zipfile.ZipFile(archive) as reading:
        with open_member(reading, reading.getinfo("text")) as stream:
            assert stream.read(MiB) == text[:MiB]
            assert stream.read() == text[MiB:]
        bomb_stream = open_member(reading, reading.getinfo("bomb"))
        with bomb_stream, pytest.raises(BadMember, match="more than the 1000 bytes"):
            bomb_stream.read()


def test_an_sdist_pkg_info_larger_than_a_metadata_file_may_be_is_refused() -> None:
    """The sdist's PKG-INFO is read whole for its dependencies: its size is bounded too."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("huge-1.0/PKG-INFO")
        info.size = 65 * MiB
        archive.addfile(info, io.BytesIO(b"\0" * info.size))
    with pytest.raises(IntegrityError, match=r"huge-1\.0\.tar\.gz: huge-1\.0/PKG-INFO declares"):
        metadata_from_archive("huge-1.0.tar.gz", data.getvalue())


# -- item 6: PEP 658 metadata must be the wheel's own ------------------------------------------


@pytest.mark.parametrize("lie", ["honest", "drops a dependency", "another version"])
def test_pep658_metadata_must_equal_the_wheels_own(
    lie: str, sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """The index serves a ``.metadata`` file (with its genuine sha256 advertised) that is
    not the wheel's METADATA: the plan was made from a lie, so nothing is installed."""
    alpha = build_wheel(index_server.root, "alpha", "1.0", requires=["beta>=1"])
    beta = build_wheel(index_server.root, "beta", "1.0")
    lies = {
        "drops a dependency": "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n\n",
        "another version": "Metadata-Version: 2.1\nName: alpha\nVersion: 9.0\n"
        "Requires-Dist: beta>=1\n\n",
    }
    if lie in lies:
        index_server.lying_metadata[alpha.name] = lies[lie].encode()
    write(Path("requirements.txt"), lock_for(alpha, beta))
    before = snapshot(venv)
    code, out, err = sync("requirements.txt")
    if lie == "honest":
        assert code == 0, err
        assert "installed 2" in out
        return
    assert code == 3, out + err
    assert alpha.name in err and "metadata" in err
    assert ("Requires-Dist" if lie == "drops a dependency" else "Version") in err
    assert snapshot(venv) == before


# -- item 7: names and versions ------------------------------------------------------------------


def test_a_url_line_naming_another_projects_wheel_is_bad_input(
    sync: Sync, venv: Path, index_server: IndexServer, tmp_path: Path
) -> None:
    """``alpha @ …/beta-1.0-….whl``: the file says which project it is before any download
    (pip and uv refuse too)."""
    beta = build_wheel(tmp_path / "elsewhere", "beta", "1.0")
    write(Path("requirements.txt"), f"alpha @ {beta.as_uri()} --hash=sha256:{sha256_of(beta)}\n")
    before = snapshot(venv)
    code, out, err = sync("requirements.txt")
    assert code == 2, out + err
    assert "requirements.txt:1" in err and beta.name in err and "not of alpha" in err
    assert snapshot(venv) == before


def rewrite_wheel(wheel: Path, renamed: dict[str, str], replaced: dict[str, bytes]) -> Path:
    """``wheel`` with members renamed (old -> new path) and contents replaced, in place."""
    with zipfile.ZipFile(wheel) as reading:
        members = {i.filename: reading.read(i) for i in reading.infolist()}
    wheel.unlink()
    with zipfile.ZipFile(wheel, "w") as writing:
        for name, data in members.items():
            new_name = renamed.get(name, name)
            writing.writestr(new_name, replaced.get(new_name, data))
    return wheel


@pytest.mark.parametrize(
    "contradiction", ["METADATA version", "METADATA name", ".dist-info version"]
)
def test_a_wheel_contradicting_its_filename_is_refused(
    contradiction: str, sync: Sync, venv: Path, index_server: IndexServer
) -> None:
    """Installed, it would never settle: every run would see another version and replace it."""
    alpha = build_wheel(index_server.root, "alpha", "1.0")
    info = "alpha-1.0.dist-info"
    metadata = {
        "METADATA version": "Name: alpha\nVersion: 2.0\n",
        "METADATA name": "Name: alpha-fork\nVersion: 1.0\n",
    }
    if contradiction in metadata:
        text = f"Metadata-Version: 2.1\n{metadata[contradiction]}\n"
        rewrite_wheel(alpha, {}, {f"{info}/METADATA": text.encode()})
    else:
        with zipfile.ZipFile(alpha) as reading:
            names = [i.filename for i in reading.infolist() if i.filename.startswith(info)]
            record = reading.read(f"{info}/RECORD").replace(info.encode(), b"alpha-2.0.dist-info")
        renamed = {n: n.replace(info, "alpha-2.0.dist-info") for n in names}
        rewrite_wheel(alpha, renamed, {"alpha-2.0.dist-info/RECORD": record})
    index_server.metadata = False  # the plan reads the wheel's own METADATA
    write(Path("requirements.txt"), lock_for(alpha))
    before = snapshot(venv)
    code, out, err = sync("requirements.txt")
    assert code == 3, out + err
    assert alpha.name in err and ("2.0" in err or "alpha-fork" in err), err
    assert snapshot(venv) == before
    assert not list(site_packages(venv).glob("alpha*"))
