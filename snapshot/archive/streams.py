"""Member streams shared by the archive writer and reader: hashing while copying."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

_COPY_CHUNK = 1 << 20

#: Opens one member for reading; the archive has checked its name, kind and size.
MemberOpener = Callable[[], IO[bytes]]


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def file_opener(path: Path) -> MemberOpener:
    return lambda: path.open("rb")


def hash_streaming(opener: MemberOpener, *, copy_to: Path | IO[bytes] | None) -> str:
    """The sha256 of what ``opener`` reads, copied on to ``copy_to`` when given."""
    digest = hashlib.sha256()
    with opener() as stream, contextlib.ExitStack() as stack:
        target = (
            stack.enter_context(copy_to.open("wb"))
            if isinstance(copy_to, Path)
            else copy_to
        )
        while chunk := stream.read(_COPY_CHUNK):
            digest.update(chunk)
            if target is not None:
                target.write(chunk)
    return digest.hexdigest()
