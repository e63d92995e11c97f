"""Write and read snapshot archives: a zip file (or a folder) with three members.

``snapshot.json`` (the manifest), the generated module and the weights as a
Keras ``.weights.h5`` file, all at the root. Writes are atomic: members are
written beside the target under a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from snapshot.errors import ArchiveError, one_line
from snapshot.version import FORMAT_VERSION

MANIFEST_NAME = "snapshot.json"
WEIGHTS_NAME = "model.weights.h5"
REQUIREMENTS_NAME = "requirements.txt"
FORMAT_NAME = "keras-snapshot"
#: Fixed member timestamp so that equal members give equal zip bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveManifest:
    """The content of ``snapshot.json``."""

    format: str
    format_version: int
    #: File name of the generated module.
    module: str
    #: The model class's name in the generated module.
    class_name: str
    #: File name of the weights member.
    weights: str
    #: sha256 of every other member, by name.
    members: dict[str, str]
    #: Versions of what wrote the archive (Python, Keras, backend, keras-snapshot).
    versions: dict[str, str]
    #: Original module and class, and the source files, for the record.
    source: dict[str, Any]
    #: How the model is rebuilt: constructor arguments' origin and input specs.
    model: dict[str, Any]
    #: How the snapshot was verified at save time; None when it was not.
    verification: dict[str, Any] | None = None
    #: Third-party distributions the generated module imports, with versions.
    requirements: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Third-party top-level import names of the generated module, by distribution.
    imports: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The extracted definitions: their names and where each came from.
    definitions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: When the archive was written (UTC, ISO 8601); the only time-dependent field.
    created: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["class"] = data.pop("class_name")
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str) -> ArchiveManifest:
        """Parse and type-check a manifest; ArchiveError names what is wrong."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ArchiveError(
                f"{where}: {MANIFEST_NAME} is not JSON: {error}"
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ArchiveError(f"{where}: not a keras-snapshot archive")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ArchiveError(f"{where}: format_version {version!r} is not a number")
        if version > FORMAT_VERSION:
            raise ArchiveError(
                f"{where}: archive format version {version} is newer than this "
                f"keras-snapshot reads (up to {FORMAT_VERSION}); upgrade keras-snapshot"
            )
        if version < FORMAT_VERSION:
            raise ArchiveError(
                f"{where}: archive format version {version} predates the first released "
                f"format ({FORMAT_VERSION}) and cannot be read"
            )
        expected_types = {
            "module": str,
            "class": str,
            "weights": str,
            "members": dict,
            "versions": dict,
            "source": dict,
            "model": dict,
        }
        for key, kind in expected_types.items():
            if not isinstance(data.get(key), kind):
                raise ArchiveError(
                    f"{where}: manifest field {key!r} is missing or malformed"
                )
        if not all(isinstance(v, str) for v in data["members"].values()):
            raise ArchiveError(f"{where}: manifest field 'members' is malformed")
        data["class_name"] = data.pop("class")
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as error:
            raise ArchiveError(f"{where}: unreadable manifest: {error}") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_archive(
    path: Path,
    *,
    members: dict[str, bytes],
    write_weights: Callable[[Path], None],
    manifest_for: Callable[[dict[str, str], dict[str, Any] | None], ArchiveManifest],
    check: Callable[[Path], dict[str, Any]] | None = None,
    layout: str = "zip",
    overwrite: bool = False,
) -> ArchiveManifest:
    """Write the archive at ``path`` atomically; returns its manifest.

    ``members`` are written as given and ``write_weights`` saves the weights
    to the path it is given. ``manifest_for(hashes, verification)`` builds the
    manifest. ``check``, when given, runs on the finished folder of members
    before anything appears at ``path``; it returns the verification record
    or raises, in which case nothing is written.
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
    try:
        return _write_staged(
            path, members, write_weights, manifest_for, check, layout=layout
        )
    except OSError as error:
        raise ArchiveError(f"{path}: cannot write: {one_line(error)}") from None


def _write_staged(
    path: Path,
    members: dict[str, bytes],
    write_weights: Callable[[Path], None],
    manifest_for: Callable[[dict[str, str], dict[str, Any] | None], ArchiveManifest],
    check: Callable[[Path], dict[str, Any]] | None,
    *,
    layout: str,
) -> ArchiveManifest:
    with tempfile.TemporaryDirectory(
        prefix=".snapshot-", dir=path.parent
    ) as staging_name:
        staging = Path(staging_name)
        folder = staging / "members"
        folder.mkdir()
        weights = folder / WEIGHTS_NAME
        write_weights(weights)
        built = staging / "archive.zip" if layout == "zip" else folder
        if layout == "zip" and check is None:
            # Nothing reads the staged folder: the weights are hashed as they
            # are copied into the zip, one pass over what may be gigabytes.
            manifest = manifest_for(_write_zip(built, members, weights), None)
        else:
            # The check loads the staged folder, so it is complete first.
            manifest = _stage_folder(folder, members, weights, manifest_for, check)
            if layout == "zip":
                _write_zip(built, members, weights)
        if layout == "zip":
            _append_manifest(built, manifest.to_json())
        _replace(built, path)
    return manifest


def _stage_folder(
    folder: Path,
    members: dict[str, bytes],
    weights: Path,
    manifest_for: Callable[[dict[str, str], dict[str, Any] | None], ArchiveManifest],
    check: Callable[[Path], dict[str, Any]] | None,
) -> ArchiveManifest:
    """Complete ``folder`` as an archive; with ``check``, record what it found."""
    for name, data in members.items():
        (folder / name).write_bytes(data)
    hashes = {name: sha256_bytes(data) for name, data in members.items()}
    hashes[WEIGHTS_NAME] = _hash_streaming(_file_opener(weights), copy_to=None)
    hashes = dict(sorted(hashes.items()))
    manifest = manifest_for(hashes, None)
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    if check is not None:
        manifest = manifest_for(hashes, check(folder))
        (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _write_zip(
    destination: Path, members: dict[str, bytes], weights: Path
) -> dict[str, str]:
    """Zip ``members`` and the ``weights`` file; return the sha256 of each, by name."""
    hashes = {name: sha256_bytes(data) for name, data in members.items()}
    with zipfile.ZipFile(destination, "w") as archive:
        for name in sorted([*members, WEIGHTS_NAME]):
            if name == WEIGHTS_NAME:
                info = _zip_info(name)
                # Known up front, so zipfile writes zip64 headers past 4 GiB.
                info.file_size = weights.stat().st_size
                with archive.open(info, "w") as target:
                    hashes[name] = _hash_streaming(
                        _file_opener(weights), copy_to=target
                    )
            else:
                archive.writestr(_zip_info(name), members[name])
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
                digest = _hash_streaming(openers[name], copy_to=weights_to)
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

#: Opens one member for reading; the archive has checked its name, kind and size.
MemberOpener = Callable[[], IO[bytes]]


def _read_member(openers: dict[str, MemberOpener], name: str, *, where: str) -> bytes:
    with openers[name]() as stream:
        data = stream.read(MAX_IN_MEMORY_BYTES + 1)
    if len(data) > MAX_IN_MEMORY_BYTES:
        raise ArchiveError(f"{where}: member {name} is too large")
    return data


def _hash_streaming(opener: MemberOpener, *, copy_to: Path | IO[bytes] | None) -> str:
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


def _check_member_name(name: str, *, where: str) -> None:
    if not _MEMBER_NAME.match(name) or name in (".", ".."):
        raise ArchiveError(f"{where}: member name {name!r} is not a plain file name")


def _check_manifest_names(manifest: ArchiveManifest, *, where: str) -> None:
    for name in manifest.members:
        _check_member_name(name, where=where)
    for name in (manifest.module, manifest.weights):
        if name not in manifest.members:
            raise ArchiveError(f"{where}: manifest records no hash for member {name}")
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
            members[child.name] = _file_opener(child)
    return members


def _file_opener(path: Path) -> MemberOpener:
    return lambda: path.open("rb")


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
