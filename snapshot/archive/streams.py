"""Member streams shared by the archive writer and reader: hashing while copying, bounds."""

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


class _BoundedStream:
    """A binary stream that raises once more than ``limit`` bytes came out of it."""

    def __init__(
        self, stream: IO[bytes], *, limit: int, on_excess: Callable[[], Exception]
    ) -> None:
        self._stream = stream
        self._left = limit
        self._on_excess = on_excess

    def read(self, size: int = -1) -> bytes:
        # Never ask for more than one byte past the bound: a decompressor
        # produces at most what it is asked for.
        wanted = self._left + 1 if size < 0 else min(size, self._left + 1)
        data = self._stream.read(wanted)
        self._left -= len(data)
        if self._left < 0:
            raise self._on_excess()
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _BoundedStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def bounded(
    stream: IO[bytes], *, limit: int, on_excess: Callable[[], Exception]
) -> IO[bytes]:
    """``stream``, counting the bytes it produces; ``on_excess()`` is raised past ``limit``."""
    return _BoundedStream(stream, limit=limit, on_excess=on_excess)  # type: ignore[return-value]
