"""Read snapshot archives, zip or folder, checking names, kinds, sizes and hashes first.

Whoever sends an archive controls every byte of it, the manifest and its
hashes included, so reading trusts none of it: an archive holds exactly the
members of the format, each read through a counter that stops at a bound on
the bytes actually produced (never the sizes the archive declares), the
module must read the same to Python and to people, and nothing is extracted
but the weights, only where the caller asks.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import IO

from snapshot.archive.manifest import (
    MANIFEST_NAME,
    REQUIREMENTS_NAME,
    ArchiveManifest,
)
from snapshot.archive.module_source import decode_module
from snapshot.archive.probe_file import check_probe
from snapshot.archive.streams import (
    MemberOpener,
    bounded,
    file_opener,
    hash_streaming,
    sha256_bytes,
)
from snapshot.errors import ArchiveError, one_line, printable


@dataclass(frozen=True)
class MemberEntry:
    """One entry of an archive as found, before anything is read from it."""

    name: str
    #: Bytes it holds: the declared size in a zip, the file's size in a folder.
    size: int
    #: ``stored`` or ``deflated`` in a zip, ``file`` in a folder.
    kind: str


@dataclass(frozen=True)
class OpenedArchive:
    """An archive's members, read and checked against the manifest's hashes."""

    manifest: ArchiveManifest
    #: The module as Python decodes it (UTF-8; it compiles).
    module_text: str
    #: The bytes of every member but the weights, by name.
    members: dict[str, bytes]
    #: Every entry of the archive, the manifest included, in archive order.
    entries: tuple[MemberEntry, ...] = ()

    @property
    def module_bytes(self) -> bytes:
        """The module exactly as stored: what is hashed, reviewed and run."""
        return self.members[self.manifest.module]

    @cached_property
    def module_sha256(self) -> str:
        return sha256_bytes(self.module_bytes)


#: Called with the checked archive before its weights are copied; raising stops reading.
BeforeWeights = Callable[[OpenedArchive], None]

#: Member names are plain file names at the archive's root.
_PLAIN_NAME_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
)
_MAX_NAME_LENGTH = 128
#: Bounds on what reading an archive may cost. The weights stream to disk.
MAX_MEMBER_BYTES = 1 << 40
#: Deflate output per byte of input; deflate itself allows up to 1032.
MAX_COMPRESSION_RATIO = 200
#: Below this many bytes, any ratio is accepted (small, very regular members).
_RATIO_FLOOR_BYTES = 1 << 20
#: Entries of a zip or folder looked at; a snapshot has five.
MAX_MEMBERS = 16
#: Members other than the weights are read into memory.
MAX_IN_MEMORY_BYTES = 256 << 20
#: The manifest, module and requirements are parsed: text, kept far smaller.
MAX_TEXT_BYTES = 8 << 20
#: Zip compression methods a snapshot uses; others (bzip2, LZMA) are refused
#: unread, as their decompressors produce unbounded output per call.
_ZIP_KINDS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_OTHER_ZIP_METHODS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}


def read_archive(
    path: Path,
    *,
    weights_to: Path | None = None,
    before_weights: BeforeWeights | None = None,
) -> OpenedArchive:
    """Read the archive at ``path`` (zip or folder) and check every member.

    Nothing is extracted but the weights, and only to ``weights_to`` when
    given, after ``before_weights`` (if any) accepted the rest. The weights
    are never held in memory; they are hashed as they stream, so what
    ``weights_to`` receives is exactly what the manifest promises.
    """
    path = Path(path)
    where = str(path)
    if path.is_symlink():
        raise ArchiveError(f"{where}: is a symbolic link; pass the archive itself")
    if not path.exists():
        raise ArchiveError(f"{where}: no such archive")
    with _listed_members(path) as listed:
        if MANIFEST_NAME not in listed:
            raise ArchiveError(
                f"{where}: not a keras-snapshot archive (no {MANIFEST_NAME})"
            )
        manifest_bytes = _read_member(
            listed[MANIFEST_NAME],
            limit=min(MAX_TEXT_BYTES, MAX_IN_MEMORY_BYTES),
            where=where,
        )
        try:
            manifest_text = manifest_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError(f"{where}: {MANIFEST_NAME} is not UTF-8 text") from None
        manifest = ArchiveManifest.from_json(manifest_text, where=where)
        _check_members_match(manifest, listed, where=where)
        members = {
            name: _read_member(
                listed[name], limit=_in_memory_limit(name, manifest), where=where
            )
            for name in manifest.members
            if name != manifest.weights
        }
        for name, data in members.items():
            _check_hash(name, sha256_bytes(data), manifest, where=where)
        opened = OpenedArchive(
            manifest=manifest,
            module_text=decode_module(
                members[manifest.module], name=manifest.module, where=where
            ),
            members=members,
            entries=tuple(member.entry for member in listed.values()),
        )
        check_probe(
            members[manifest.model.probe],
            name=manifest.model.probe,
            where=where,
            limit=MAX_IN_MEMORY_BYTES,
        )
        if before_weights is not None:
            before_weights(opened)
        digest = hash_streaming(listed[manifest.weights].open, copy_to=weights_to)
        _check_hash(manifest.weights, digest, manifest, where=where)
    return opened


@dataclass(frozen=True)
class _Member:
    """An entry and a way to open it that stops past ``limit`` bytes."""

    entry: MemberEntry
    open: MemberOpener
    limit: int


def _read_member(member: _Member, *, limit: int, where: str) -> bytes:
    if member.entry.kind == "folder":
        raise ArchiveError(f"{where}: member {member.entry.name} is a folder")
    with member.open() as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"{where}: member {member.entry.name} is too large")
    return data


def _in_memory_limit(name: str, manifest: ArchiveManifest) -> int:
    if name in (manifest.module, REQUIREMENTS_NAME):
        return min(MAX_TEXT_BYTES, MAX_IN_MEMORY_BYTES)
    return MAX_IN_MEMORY_BYTES


def _check_hash(
    name: str, digest: str, manifest: ArchiveManifest, *, where: str
) -> None:
    if digest != manifest.members[name]:
        raise ArchiveError(
            f"{where}: member {name} was changed after the archive was written"
        )


def _check_member_name(name: str, *, where: str) -> None:
    if (
        not name
        or len(name) > _MAX_NAME_LENGTH
        or not set(name) <= _PLAIN_NAME_CHARACTERS
        or name[0] in ".-"
    ):
        raise ArchiveError(
            f"{where}: member name {printable(repr(name))} is not a plain file name"
        )


def expected_members(manifest: ArchiveManifest, *, where: str) -> dict[str, str]:
    """The members a snapshot with ``manifest`` holds besides the manifest, by role.

    Raises ArchiveError when the manifest names one member for two roles, or a
    member whose name does not fit its role: only the module may be Python.
    """
    roles: dict[str, str] = {}
    for role, name, suffix in (
        ("module", manifest.module, "_snapshot.py"),
        ("weights", manifest.weights, ".h5"),
        ("probe", manifest.model.probe, ".npz"),
    ):
        _check_member_name(name, where=where)
        if name in roles:
            raise ArchiveError(
                f"{where}: manifest names {name} as both the {roles[name]} "
                f"and the {role}"
            )
        if not name.endswith(suffix) or (
            role == "module" and not name.removesuffix(".py").isidentifier()
        ):
            raise ArchiveError(
                f"{where}: manifest names {printable(repr(name))} as the {role}, "
                f"which must be a file name ending in {suffix}"
            )
        roles[name] = role
    if REQUIREMENTS_NAME in roles:
        raise ArchiveError(
            f"{where}: manifest names {REQUIREMENTS_NAME} as the {roles[REQUIREMENTS_NAME]}"
        )
    roles[REQUIREMENTS_NAME] = "requirements"
    return roles


def _check_members_match(
    manifest: ArchiveManifest, listed: dict[str, _Member], *, where: str
) -> None:
    """The manifest's hashes, the format's members and the archive's entries agree."""
    expected = expected_members(manifest, where=where)
    extra = sorted(set(manifest.members) - set(expected))
    if extra:
        raise ArchiveError(
            f"{where}: manifest lists member {printable(repr(extra[0]))}, "
            "which is not part of a snapshot"
        )
    for name in expected:
        if name not in manifest.members:
            raise ArchiveError(f"{where}: manifest records no hash for member {name}")
    unexpected = [
        name + ("/" if member.entry.kind == "folder" else "")
        for name, member in listed.items()
        if name not in expected and name != MANIFEST_NAME
    ]
    if unexpected:
        raise ArchiveError(
            f"{where}: holds {', '.join(unexpected)}, which "
            f"{'is' if len(unexpected) == 1 else 'are'} not part of a snapshot "
            f"(a snapshot holds {MANIFEST_NAME}, {', '.join(expected)} and nothing else)"
        )
    for name in expected:
        if name not in listed:
            raise ArchiveError(f"{where}: member {name} is missing")
        if listed[name].entry.kind == "folder":
            raise ArchiveError(f"{where}: member {name} is a folder")


@contextlib.contextmanager
def _listed_members(path: Path) -> Iterator[dict[str, _Member]]:
    """Every entry by name, once names, kinds and declared sizes pass."""
    if path.is_dir():
        try:
            yield _folder_members(path)
        except OSError as error:
            raise ArchiveError(f"{path}: cannot read: {one_line(error)}") from None
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
        raise ArchiveError(
            f"{path}: unreadable zip member: {one_line(error)}"
        ) from None


def _folder_members(path: Path) -> dict[str, _Member]:
    members: dict[str, _Member] = {}
    with os.scandir(path) as scanned:
        for index, child in enumerate(sorted(scanned, key=lambda c: c.name)):
            if index >= MAX_MEMBERS:
                raise ArchiveError(f"{path}: holds more entries than a snapshot")
            _check_member_name(child.name, where=str(path))
            if child.is_symlink():
                raise ArchiveError(f"{path}: member {child.name} is a symbolic link")
            if child.is_dir(follow_symlinks=False):
                # Refused once the manifest says what belongs, with everything else.
                members[child.name] = _Member(
                    MemberEntry(child.name, 0, "folder"), _no_opener, 0
                )
                continue
            info = child.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                raise ArchiveError(f"{path}: member {child.name} is not a regular file")
            if info.st_size > MAX_MEMBER_BYTES:
                raise ArchiveError(f"{path}: member {child.name} is too large")
            members[child.name] = _Member(
                MemberEntry(child.name, info.st_size, "file"),
                _counted(
                    file_opener(Path(child.path)),
                    limit=info.st_size,
                    name=child.name,
                    where=str(path),
                ),
                info.st_size,
            )
    return members


def _no_opener() -> IO[bytes]:
    raise AssertionError("folders are refused before anything is read")


def _zip_members(archive: zipfile.ZipFile, *, where: str) -> dict[str, _Member]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArchiveError(f"{where}: holds {len(infos)} members, more than a snapshot")
    members: dict[str, _Member] = {}
    for info in infos:
        limit = _check_zip_member(info, members, where=where)
        members[info.filename] = _Member(
            MemberEntry(info.filename, info.file_size, _ZIP_KINDS[info.compress_type]),
            _counted(
                partial(archive.open, info),
                limit=limit,
                name=info.filename,
                where=where,
            ),
            limit,
        )
    return members


def _check_zip_member(
    info: zipfile.ZipInfo, seen: dict[str, _Member], *, where: str
) -> int:
    """Refuse what a snapshot's zip never holds; return the member's bound in bytes.

    The bound depends on the compressed bytes alone, which the archive's file
    size limits: stored data cannot grow, deflated data by at most
    ``MAX_COMPRESSION_RATIO``. Declared sizes only allow refusing early.
    """
    name = info.filename
    _check_member_name(name, where=where)
    if name in seen:
        raise ArchiveError(f"{where}: member {name} appears twice")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(f"{where}: member {name} is a symbolic link")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{where}: member {name} is encrypted")
    if info.compress_type not in _ZIP_KINDS:
        method = _OTHER_ZIP_METHODS.get(
            info.compress_type, f"method {info.compress_type}"
        )
        raise ArchiveError(
            f"{where}: member {name} is compressed with {method}; "
            "a snapshot's members are stored or deflated"
        )
    if info.compress_type == zipfile.ZIP_STORED:
        limit = info.compress_size
    else:
        limit = max(_RATIO_FLOOR_BYTES, MAX_COMPRESSION_RATIO * info.compress_size)
    limit = min(limit, MAX_MEMBER_BYTES)
    if info.file_size > limit:
        if info.file_size > MAX_MEMBER_BYTES:
            raise ArchiveError(
                f"{where}: member {name} is too large ({info.file_size} bytes)"
            )
        raise ArchiveError(
            f"{where}: member {name} expands {info.file_size // max(info.compress_size, 1)}"
            " times; refusing a possible zip bomb"
        )
    return limit


def _counted(
    opener: MemberOpener, *, limit: int, name: str, where: str
) -> MemberOpener:
    """``opener`` with its stream cut off, as an error, past ``limit`` bytes."""

    def too_large() -> ArchiveError:
        return ArchiveError(
            f"{where}: member {name} produces more than {limit} bytes; "
            "refusing a possible zip bomb"
        )

    return lambda: bounded(opener(), limit=limit, on_excess=too_large)
