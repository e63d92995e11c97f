"""Write snapshot archives atomically: a zip file, or a folder of the same members.

Members are staged beside the target in a temporary folder and the finished
archive is renamed into place, so an archive appears whole or not at all.
The writer holds a lock on a file in its staging folder while it writes; a
staging folder whose lock can be taken was left by a writer that died
(killed mid-write), and the next write into the same folder removes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from snapshot.archive.manifest import (
    MANIFEST_NAME,
    WEIGHTS_NAME,
    ArchiveManifest,
    VerificationRecord,
)
from snapshot.archive.streams import file_opener, hash_streaming, sha256_bytes
from snapshot.errors import ArchiveError, one_line

try:
    import fcntl
except ImportError:  # Windows: staging folders of killed writers stay
    fcntl = None  # type: ignore[assignment]

#: Builds the manifest from the members' hashes and the verification record.
ManifestBuilder = Callable[[dict[str, str], VerificationRecord | None], ArchiveManifest]
#: Fixed member timestamp so that equal members give equal zip bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def check_destination(path: Path, *, layout: str, overwrite: bool) -> Path:
    """The absolute archive path, once it is known that it can be written there.

    Checked before any work, so a save with a wrong path fails at once.
    """
    if layout not in ("zip", "dir"):
        raise ArchiveError(f"layout must be 'zip' or 'dir', not {layout!r}")
    # Absolute, so that a verification run from another folder finds the staging copy.
    path = Path(path).absolute()
    if not path.parent.is_dir():
        raise ArchiveError(f"{path}: folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise ArchiveError(
            f"{path}: already exists; pass overwrite=True (--force) to replace it"
        )
    if not os.access(path.parent, os.W_OK):
        raise ArchiveError(f"{path}: folder {path.parent} is not writable")
    return path


def write_archive(
    path: Path,
    *,
    members: dict[str, bytes],
    write_weights: Callable[[Path], None] | None = None,
    weights: bytes | memoryview | None = None,
    manifest_for: ManifestBuilder,
    check: Callable[[Path], VerificationRecord] | None = None,
    layout: str = "zip",
    overwrite: bool = False,
) -> ArchiveManifest:
    """Write the archive at ``path`` atomically; returns its manifest.

    ``members`` are written as given. The weights are either ``weights``, the
    bytes of the ``.weights.h5`` file, or written by ``write_weights`` to the
    path it is given (for weights too large to hold in memory).
    ``manifest_for(hashes, verification)`` builds the manifest. ``check``, when
    given, runs on the finished folder of members before anything appears at
    ``path``; it returns the verification record or raises, in which case
    nothing is written.
    """
    if (weights is None) == (write_weights is None):
        raise TypeError("give exactly one of weights= and write_weights=")
    path = check_destination(path, layout=layout, overwrite=overwrite)
    try:
        return _write_staged(
            path,
            members,
            weights if weights is not None else write_weights,  # type: ignore[arg-type]
            manifest_for,
            check,
            layout=layout,
        )
    except OSError as error:
        raise ArchiveError(f"{path}: cannot write: {one_line(error)}") from None


def _write_staged(
    path: Path,
    members: dict[str, bytes],
    weights: bytes | memoryview | Callable[[Path], None],
    manifest_for: ManifestBuilder,
    check: Callable[[Path], VerificationRecord] | None,
    *,
    layout: str,
) -> ArchiveManifest:
    with (
        tempfile.TemporaryDirectory(
            prefix=_STAGING_PREFIX, dir=path.parent
        ) as staging_name,
        _owned(Path(staging_name)),
    ):
        staging = Path(staging_name)
        _remove_abandoned_staging(path.parent, own=staging)
        folder = staging / "members"
        folder.mkdir()
        built = staging / "archive.zip" if layout == "zip" else folder
        if layout == "zip" and check is None and not callable(weights):
            manifest = _write_zip_in_memory(built, members, weights, manifest_for)
            _replace(built, path)
            return manifest
        weights_file = folder / WEIGHTS_NAME
        if callable(weights):
            weights(weights_file)
        else:
            weights_file.write_bytes(weights)
        if layout == "zip" and check is None:
            # Nothing reads the staged folder: the weights are hashed as they
            # are copied into the zip, one pass over what may be gigabytes.
            hashes = _write_zip(built, members, weights_file)
            manifest = manifest_for(hashes, None)
        else:
            # The check loads the staged folder, so it is complete first.
            manifest = _stage_folder(folder, members, weights_file, manifest_for, check)
            if layout == "zip":
                _write_zip(built, members, weights_file)
        if layout == "zip":
            _append_manifest(built, manifest.to_json())
        _replace(built, path)
    return manifest


_STAGING_PREFIX = ".snapshot-"
#: Locked by the writer for as long as its staging folder exists.
_OWNER_NAME = "owner.lock"


@contextlib.contextmanager
def _owned(staging: Path) -> Iterator[None]:
    """Hold the lock that marks ``staging`` as being written by this process."""
    if fcntl is None:
        yield
        return
    # Locked before it gets its name: an owner file is never seen unlocked
    # while its writer lives.
    pending = staging / f"{_OWNER_NAME}.pending"
    descriptor = os.open(pending, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, f"{socket.gethostname()} {os.getpid()}\n".encode())
        os.rename(pending, staging / _OWNER_NAME)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staging / _OWNER_NAME)
        os.close(descriptor)


def _remove_abandoned_staging(folder: Path, *, own: Path) -> None:
    """Remove staging folders in ``folder`` whose writer died.

    Its lock must be free and, as locks do not reach across hosts on every
    network file system, its owner file must name this host and a process
    that no longer runs.
    """
    if fcntl is None:
        return
    for candidate in folder.glob(f"{_STAGING_PREFIX}*"):
        if candidate == own:
            continue
        try:
            descriptor = os.open(candidate / _OWNER_NAME, os.O_RDONLY)
        except OSError:
            continue  # not a staging folder, or its writer is just starting
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _writer_is_gone(os.read(descriptor, 512)):
                shutil.rmtree(candidate, ignore_errors=True)
        except OSError:
            continue  # its writer holds the lock
        finally:
            os.close(descriptor)


def _writer_is_gone(owner: bytes) -> bool:
    """Whether the owner file's ``host pid`` names a process of this host that ended."""
    host, _, pid = owner.decode("utf-8", "replace").strip().rpartition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass  # it runs, as another user
    return False


def _hashes(members: dict[str, bytes]) -> dict[str, str]:
    return {name: sha256_bytes(data) for name, data in members.items()}


def _stage_folder(
    folder: Path,
    members: dict[str, bytes],
    weights: Path,
    manifest_for: ManifestBuilder,
    check: Callable[[Path], VerificationRecord] | None,
) -> ArchiveManifest:
    """Complete ``folder`` as an archive; with ``check``, record what it found."""
    for name, data in members.items():
        (folder / name).write_bytes(data)
    hashes = _hashes(members)
    hashes[WEIGHTS_NAME] = hash_streaming(file_opener(weights), copy_to=None)
    hashes = dict(sorted(hashes.items()))
    manifest = manifest_for(hashes, None)
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    if check is not None:
        manifest = manifest_for(hashes, check(folder))
        (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _write_zip_in_memory(
    destination: Path,
    members: dict[str, bytes],
    weights: bytes | memoryview,
    manifest_for: ManifestBuilder,
) -> ArchiveManifest:
    """Zip members and weights held in memory in one pass, the manifest last.

    Large weights are hashed on another thread while they are zipped: both
    release the GIL, and each alone is a pass over the whole file.
    """
    hashes = _hashes(members)
    with contextlib.ExitStack() as stack:
        if len(weights) > _HASH_IN_PARALLEL_FROM:
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
            weights_hash = pool.submit(sha256_bytes, weights)
        archive = stack.enter_context(zipfile.ZipFile(destination, "w"))
        for name in sorted([*members, WEIGHTS_NAME]):
            data = weights if name == WEIGHTS_NAME else members[name]
            archive.writestr(_zip_info(name), data)
        hashes[WEIGHTS_NAME] = (
            weights_hash.result()
            if len(weights) > _HASH_IN_PARALLEL_FROM
            else sha256_bytes(weights)
        )
        manifest = manifest_for(dict(sorted(hashes.items())), None)
        archive.writestr(_zip_info(MANIFEST_NAME), manifest.to_json().encode("utf-8"))
    return manifest


#: Weights past this size are hashed on a second thread while they are zipped.
_HASH_IN_PARALLEL_FROM = 4 << 20


def _write_zip(
    destination: Path, members: dict[str, bytes], weights: Path
) -> dict[str, str]:
    """Zip ``members`` and the ``weights`` file, hashed as it streams in.

    Returns the sha256 of each member, by name.
    """
    hashes = _hashes(members)
    with zipfile.ZipFile(destination, "w") as archive:
        for name in sorted([*members, WEIGHTS_NAME]):
            if name != WEIGHTS_NAME:
                archive.writestr(_zip_info(name), members[name])
                continue
            info = _zip_info(name)
            # Known up front, so zipfile writes zip64 headers past 4 GiB.
            info.file_size = weights.stat().st_size
            with archive.open(info, "w") as target:
                hashes[name] = hash_streaming(file_opener(weights), copy_to=target)
    return dict(sorted(hashes.items()))


def _append_manifest(destination: Path, text: str) -> None:
    with zipfile.ZipFile(destination, "a") as archive:
        archive.writestr(_zip_info(MANIFEST_NAME), text.encode("utf-8"))


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    # Trained float weights barely deflate (under 10%) at a cost of seconds
    # per 100 MB, so they are stored, as Keras stores them.
    info.compress_type = (
        zipfile.ZIP_STORED if name == WEIGHTS_NAME else zipfile.ZIP_DEFLATED
    )
    info.external_attr = 0o644 << 16
    return info


def _replace(built: Path, path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # A folder cannot be swapped atomically over another; move the old one aside first.
        aside = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(aside)
        os.replace(built, path)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(built, path)
