"""The workload as a versioned, checksummed artifact: a reproducible ``.tar.gz`` (sorted entries, fixed owner and
times, so the same sources give the same bytes and the same SHA-256) and its checksum file.

Layout inside the tarball (what the instance installs under ``/opt/app/releases/<version>/``)::

    bin/start            the start command (``app.start_command`` default)
    requirements.txt     pinned dependencies, installed into ``venv/`` by the user data
    workload/*.py        the service
    VERSION              the version it was built as

Keys in the artifact bucket: ``workload/<version>/app.tar.gz`` and ``workload/<version>/app.tar.gz.sha256``
(``sha256sum`` format).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
#: Files of the service shipped in the tarball (tests stay out).
SOURCES = ("__init__.py", "auth.py", "service.py", "xray.py", "package.py")


def artifact_key(version: str) -> str:
    return f"workload/{version}/app.tar.gz"


def check_version(version: str) -> str:
    if not VERSION_RE.match(version):
        raise ValueError(f"version {version!r} must be 1-64 letters, digits or . _ + - (starting with a letter or "
                         "digit), e.g. 1.4.0 or 2026-12-02.1")
    return version


@dataclass(frozen=True)
class Artifact:
    version: str
    data: bytes
    sha256: str

    @property
    def key(self) -> str:
        return artifact_key(self.version)

    @property
    def checksum_line(self) -> str:
        return f"{self.sha256}  app.tar.gz\n"

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "app.tar.gz"
        path.write_bytes(self.data)
        (folder / "app.tar.gz.sha256").write_text(self.checksum_line)
        return path


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = len(data), mode, 0, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def source_digest() -> str:
    """SHA-256 over the shipped sources: the reference workload's default version is ``ref-<first 12>``."""
    h = hashlib.sha256()
    for rel in ("bin/start", "requirements.txt", *(f"workload/{s}" for s in SOURCES)):
        src = ROOT / rel.removeprefix("workload/") if rel.startswith("workload/") else ROOT / rel
        h.update(rel.encode() + b"\0" + src.read_bytes() + b"\0")
    return h.hexdigest()


def reference_version() -> str:
    return f"ref-{source_digest()[:12]}"


def build(version: str | None = None) -> Artifact:
    """The reference workload as an artifact of ``version`` (default :func:`reference_version`)."""
    version = check_version(version or reference_version())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "VERSION", f"{version}\n".encode(), 0o644)
        _add(tar, "bin/start", (ROOT / "bin" / "start").read_bytes(), 0o755)
        _add(tar, "requirements.txt", (ROOT / "requirements.txt").read_bytes(), 0o644)
        for name in SOURCES:
            _add(tar, f"workload/{name}", (ROOT / name).read_bytes(), 0o644)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    data = out.getvalue()
    return Artifact(version, data, hashlib.sha256(data).hexdigest())


def from_file(path: Path, version: str) -> Artifact:
    """A user's own tarball as an artifact of ``version``."""
    data = Path(path).read_bytes()
    return Artifact(check_version(version), data, hashlib.sha256(data).hexdigest())
