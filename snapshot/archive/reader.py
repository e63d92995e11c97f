"""Read snapshot archives, zip or folder, checking names, sizes and hashes first.

Nothing is extracted but the weights, and only where the caller asks: a
hostile archive can neither write outside a folder nor exhaust memory.
"""

from __future__ import annotations

import contextlib
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from snapshot.archive.manifest import (
    ARRAYS_NAME,
    ASSETS_NAME,
    MANIFEST_NAME,
    MODULE_STATE_NAME,
    ArchiveManifest,
)
from snapshot.archive.streams import (
    MemberOpener,
    file_opener,
    hash_streaming,
    sha256_bytes,
)
from snapshot.errors import ArchiveError, one_line


@dataclass(frozen=True)
class OpenedArchive:
    """An archive's members, read and checked against the manifest's hashes."""

    manifest: ArchiveManifest
    module_text: str
    #: The bytes of every member but the weights, by name.
    members: dict[str, bytes]


def read_archive(path: Path, *, weights_to: Path | None = None) -> OpenedArchive:
    """Read the archive at ``path`` (zip or folder) and check every member's hash.

    Nothing is extracted but the weights, and only to ``weights_to`` when given:
    names, kinds and sizes are checked first, so a hostile archive can neither
    write outside a folder nor exhaust memory. The weights are never held in
    memory; they are hashed as they stream, so what ``weights_to`` receives is
    exactly what the manifest promises.
    """
    path = Path(path)
    if path.is_symlink():
        raise ArchiveError(f"{path}: is a symbolic link; pass the archive itself")
    if not path.exists():
        raise ArchiveError(f"{path}: no such archive")
    with _opened_members(path) as openers:
        if MANIFEST_NAME not in openers:
            raise ArchiveError(
                f"{path}: not a keras-snapshot archive (no {MANIFEST_NAME})"
            )
        try:
            manifest_text = _read_member(
                openers, MANIFEST_NAME, where=str(path)
            ).decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError(f"{path}: {MANIFEST_NAME} is not UTF-8 text") from None
        manifest = ArchiveManifest.from_json(manifest_text, where=str(path))
        _check_manifest_names(manifest, where=str(path))
        members: dict[str, bytes] = {}
        for name, expected in manifest.members.items():
            if name not in openers:
                raise ArchiveError(f"{path}: member {name} is missing")
            if name == manifest.weights:
                digest = hash_streaming(openers[name], copy_to=weights_to)
            else:
                members[name] = _read_member(openers, name, where=str(path))
                digest = sha256_bytes(members[name])
            if digest != expected:
                raise ArchiveError(
                    f"{path}: member {name} was changed after the archive was written"
                )
        unexpected = sorted(set(openers) - set(manifest.members) - {MANIFEST_NAME})
        if unexpected:
            raise ArchiveError(f"{path}: member {unexpected[0]} is not in the manifest")
    try:
        module_text = members[manifest.module].decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError(
            f"{path}: member {manifest.module} is not UTF-8 text"
        ) from None
    return OpenedArchive(manifest=manifest, module_text=module_text, members=members)


#: Member names are plain file names at the archive's root.
_MEMBER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
#: Bounds on what reading an archive may cost.
#: The weights stream to disk, so only the disk bounds them.
MAX_MEMBER_BYTES = 1 << 40
MAX_COMPRESSION_RATIO = 200
MAX_MEMBERS = 16
#: Members other than the weights are read into memory: the module, manifest,
#: probe batch and requirements are small.
MAX_IN_MEMORY_BYTES = 256 << 20


def _read_member(openers: dict[str, MemberOpener], name: str, *, where: str) -> bytes:
    with openers[name]() as stream:
        data = stream.read(MAX_IN_MEMORY_BYTES + 1)
    if len(data) > MAX_IN_MEMORY_BYTES:
        raise ArchiveError(f"{where}: member {name} is too large")
    return data


def _check_member_name(name: str, *, where: str) -> None:
    if not _MEMBER_NAME.match(name) or name in (".", ".."):
        raise ArchiveError(f"{where}: member name {name!r} is not a plain file name")


def _check_manifest_names(manifest: ArchiveManifest, *, where: str) -> None:
    for name in manifest.members:
        _check_member_name(name, where=where)
    for name in (manifest.module, manifest.weights, *manifest.data_members):
        if name not in manifest.members:
            raise ArchiveError(f"{where}: manifest records no hash for member {name}")
    for record, fixed in (
        (manifest.arrays, ARRAYS_NAME),
        (manifest.assets, ASSETS_NAME),
        (manifest.module_state, MODULE_STATE_NAME),
    ):
        if record is not None and record.member != fixed:
            raise ArchiveError(
                f"{where}: member {record.member!r} is not a name the format defines "
                f"(expected {fixed})"
            )
    stem = manifest.module.removesuffix(".py")
    if not manifest.module.endswith(".py") or not stem.isidentifier():
        raise ArchiveError(
            f"{where}: module member {manifest.module!r} is not a module name"
        )


@contextlib.contextmanager
def _opened_members(path: Path) -> Iterator[dict[str, MemberOpener]]:
    """Each member's name and a way to open it, once names, kinds and sizes pass."""
    if path.is_dir():
        yield _folder_members(path)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            yield _zip_members(archive, where=str(path))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        struct.error,
        OSError,
        EOFError,
        ValueError,
    ) as error:
        raise ArchiveError(
            f"{path}: not a readable zip archive: {one_line(error)}"
        ) from None
    except (NotImplementedError, RuntimeError) as error:
        # Unsupported compression or encryption.
        raise ArchiveError(
            f"{path}: unreadable zip member: {one_line(error)}"
        ) from None


def _folder_members(path: Path) -> dict[str, MemberOpener]:
    members: dict[str, MemberOpener] = {}
    for child in sorted(path.iterdir()):
        if child.is_symlink():
            raise ArchiveError(f"{path}: member {child.name} is a symbolic link")
        if child.is_file():
            _check_member_name(child.name, where=str(path))
            if child.stat().st_size > MAX_MEMBER_BYTES:
                raise ArchiveError(f"{path}: member {child.name} is too large")
            members[child.name] = file_opener(child)
    return members


def _zip_members(archive: zipfile.ZipFile, *, where: str) -> dict[str, MemberOpener]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArchiveError(f"{where}: holds {len(infos)} members, more than a snapshot")
    members: dict[str, MemberOpener] = {}
    for info in infos:
        _check_zip_member(info, members, where=where)
        members[info.filename] = partial(archive.open, info)
    return members


def _check_zip_member(
    info: zipfile.ZipInfo, seen: dict[str, MemberOpener], *, where: str
) -> None:
    _check_member_name(info.filename, where=where)
    if info.filename in seen:
        raise ArchiveError(f"{where}: member {info.filename} appears twice")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(f"{where}: member {info.filename} is a symbolic link")
    if info.file_size > MAX_MEMBER_BYTES:
        raise ArchiveError(
            f"{where}: member {info.filename} is too large ({info.file_size} bytes)"
        )
    if info.file_size > (1 << 20) and info.file_size > MAX_COMPRESSION_RATIO * max(
        info.compress_size, 1
    ):
        raise ArchiveError(
            f"{where}: member {info.filename} expands {info.file_size // max(info.compress_size, 1)}"
            " times; refusing a possible zip bomb"
        )
