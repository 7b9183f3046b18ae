"""Deterministic zip archives for Lambda code.

cdktf's own ARCHIVE assets store file modification times, so identical code gives different zip
bytes, a different source_code_hash and a needless Lambda update on every apply. These archives
fix every timestamp and permission and sort their entries: same files in, same bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16


def zip_bytes(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip of (archive name, content) pairs, identical for identical input."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, content, compresslevel=9)
    return buffer.getvalue()


def directory_files(root: Path, prefix: str) -> list[tuple[str, bytes]]:
    """Every source file below root as (prefix/relative path, bytes), caches left out."""
    return [
        (f"{prefix}/{path.relative_to(root).as_posix()}", path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


def lambda_hash(data: bytes) -> str:
    """Base64 SHA-256, the form of Lambda's CodeSha256 and Terraform's source_code_hash."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def write_once(directory: Path, name: str, data: bytes) -> Path:
    """Write data to directory/<sha256>/name unless it is already there; the path."""
    target = directory / hashlib.sha256(data).hexdigest()[:16] / name
    if not target.exists() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


HANDLERS_DIRECTORY = Path(__file__).resolve().parent / "handlers"


def handlers_package() -> bytes:
    """The handlers package as a deterministic zip; Lambda imports it as `handlers`."""
    return zip_bytes(directory_files(HANDLERS_DIRECTORY, "handlers"))
