"""How long and how much memory a verifying child may take.

Every verifying child, forked or fresh, runs under a wall-clock timeout
(enforced by the process that supervises it, which kills the child's process
group) and a memory limit (``RLIMIT_DATA``, set in the child before it loads
anything). ``RLIMIT_AS`` is not used: TensorFlow and JAX reserve gigabytes of
address space they never touch, so an address-space limit fails them at import.
``RLIMIT_DATA`` counts what a process can actually write to: heap, anonymous
mappings and thread stacks.

Both limits scale with the archive by default and are set with
``KERAS_SNAPSHOT_VERIFY_TIMEOUT`` (seconds) and ``KERAS_SNAPSHOT_VERIFY_MEMORY``
(bytes, or a number with ``MiB``/``GiB``/``TiB``). This module imports only the
standard library: the fresh child applies the memory limit before importing
anything else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from snapshot.errors import SnapshotError

TIMEOUT_VARIABLE = "KERAS_SNAPSHOT_VERIFY_TIMEOUT"
MEMORY_VARIABLE = "KERAS_SNAPSHOT_VERIFY_MEMORY"

_GIB = 1 << 30
#: What a child needs before the model: the interpreter, Keras and TensorFlow
#: hold about 350 MiB of data (JAX about 600 MiB) after import; the rest is room.
_BASE_MEMORY = 4 * _GIB
#: The weights are in memory about three times at once: the variables, the
#: HDF5 read buffers and the copies hashed to count loaded variables.
_MEMORY_PER_ARCHIVE_BYTE = 4
_BASE_TIMEOUT = 300.0
#: Copying, hashing and loading weights; a slow disk reads 100 MB/s.
_SECONDS_PER_GIB = 60.0
_UNITS = {"": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": _GIB, "tib": 1 << 40}


@dataclass(frozen=True)
class VerificationLimits:
    """Bounds on one verifying child."""

    #: Wall-clock seconds from the request to the child's answer.
    timeout_seconds: float
    #: ``RLIMIT_DATA`` of the child, in bytes.
    memory_bytes: int

    def describe_memory(self) -> str:
        """``4.0 GiB``."""
        return f"{self.memory_bytes / _GIB:.1f} GiB"


def default_limits(archive_bytes: int) -> VerificationLimits:
    """The limits for an archive of ``archive_bytes`` when none are set."""
    return VerificationLimits(
        timeout_seconds=_BASE_TIMEOUT + _SECONDS_PER_GIB * archive_bytes / _GIB,
        memory_bytes=_BASE_MEMORY + _MEMORY_PER_ARCHIVE_BYTE * archive_bytes,
    )


def limits_for(
    archive: Path, *, environ: Mapping[str, str] = os.environ
) -> VerificationLimits:
    """The limits for verifying ``archive``: the defaults, or what ``environ`` sets."""
    return _with_environment(default_limits(_size_on_disk(archive)), environ)


def check_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Refuse malformed limits in ``environ`` now, before any work is done."""
    _with_environment(default_limits(0), environ)


def _with_environment(
    defaults: VerificationLimits, environ: Mapping[str, str]
) -> VerificationLimits:
    timeout, memory = environ.get(TIMEOUT_VARIABLE), environ.get(MEMORY_VARIABLE)
    return VerificationLimits(
        timeout_seconds=(
            defaults.timeout_seconds if timeout is None else parse_seconds(timeout)
        ),
        memory_bytes=defaults.memory_bytes if memory is None else parse_bytes(memory),
    )


def parse_seconds(text: str) -> float:
    """``"30"`` → 30.0; anything but a positive number is a SnapshotError."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise SnapshotError(
            f"{TIMEOUT_VARIABLE} must be a positive number of seconds, not {text!r}"
        )
    return seconds


def parse_bytes(text: str) -> int:
    """``"512MiB"`` → 536870912; plain numbers are bytes."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i[bB])?\s*", text)
    if found is None or float(found.group(1)) <= 0:
        raise SnapshotError(
            f"{MEMORY_VARIABLE} must be a positive size in bytes or with a unit "
            f"(512MiB, 8GiB), not {text!r}"
        )
    return int(float(found.group(1)) * _UNITS[(found.group(2) or "").lower()])


def restrict_memory(memory_bytes: int) -> None:
    """Limit this process's data segment to ``memory_bytes``; runs in the child.

    An allocation past it fails (``MemoryError`` in Python) instead of taking
    the machine's memory. Where the platform has no ``RLIMIT_DATA`` nothing is set.
    """
    try:
        import resource
    except ImportError:  # Windows
        return
    limit = getattr(resource, "RLIMIT_DATA", None)
    if limit is None:
        return
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        memory_bytes = min(memory_bytes, hard)
    resource.setrlimit(limit, (memory_bytes, hard))


def _size_on_disk(archive: Path) -> int:
    """Bytes of a zip archive, or of every file of a folder archive."""
    try:
        if archive.is_dir():
            return sum(p.stat().st_size for p in archive.iterdir() if p.is_file())
        return archive.stat().st_size
    except OSError:
        # Reading the archive will fail and say why; the defaults do meanwhile.
        return 0
