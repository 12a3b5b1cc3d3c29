"""Reading ZIP files that people upload: bounded in size and entries, every failure a reason."""

from __future__ import annotations

import io
import zipfile

from integration.core.errors import ValidationFailed


def open_zip(
    data: bytes,
    error: type[ValidationFailed],
    *,
    max_bytes: int,
    max_entries: int,
    max_unpacked: int,
) -> zipfile.ZipFile:
    """The archive, or ``error`` (422) saying why it cannot be read.

    ``max_unpacked`` bounds what its files may add up to once unpacked, as their headers
    declare; :func:`read_member` refuses a file that holds more than its header says, so a
    small upload cannot unpack into gigabytes.
    """
    if len(data) > max_bytes:
        raise error.single("file", f"the archive exceeds {max_bytes} bytes")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise error.single("file", "not a ZIP archive") from None
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise error.single("file", f"more than {max_entries} files in the archive")
    if sum(info.file_size for info in infos) > max_unpacked:
        raise error.single("file", f"the archive unpacks to more than {max_unpacked} bytes")
    return zf


def read_member(zf: zipfile.ZipFile, name: object, limit: int) -> bytes:
    """A member's bytes; ValueError with a reason a person can act on."""
    if not isinstance(name, str) or not name:
        raise ValueError("the manifest names no file")
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{name} is missing from the archive") from None
    if info.file_size > limit:
        raise ValueError(f"{name} exceeds {limit} bytes")
    try:
        with zf.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise ValueError(f"{name} cannot be unpacked ({exc})") from None
    if len(data) > info.file_size:  # a header that lied about the size
        raise ValueError(f"{name} holds more than its header says")
    return data
