"""Write and read snapshot archives: a zip file (or a folder) with three members.

``snapshot.json`` (the manifest), the generated module and the weights as a
Keras ``.weights.h5`` file, all at the root. Writes are atomic: members are
written beside the target under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from snapshot.errors import ArchiveError
from snapshot.version import FORMAT_VERSION

MANIFEST_NAME = "snapshot.json"
WEIGHTS_NAME = "model.weights.h5"
FORMAT_NAME = "keras-snapshot"
#: Fixed member timestamp so that equal members give equal zip bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


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

    def to_json(self) -> str:
        data = asdict(self)
        data["class"] = data.pop("class_name")
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str) -> ArchiveManifest:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT_NAME:
                raise ArchiveError(f"{where}: not a keras-snapshot archive")
            version = data.get("format_version")
            if version != FORMAT_VERSION:
                raise ArchiveError(
                    f"{where}: archive format version {version!r} is not supported by this "
                    f"keras-snapshot (it reads version {FORMAT_VERSION})"
                )
            data["class_name"] = data.pop("class")
            return cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ArchiveError(
                f"{where}: unreadable manifest {MANIFEST_NAME}: {error}"
            ) from None


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
    path = Path(path)
    if not path.parent.is_dir():
        raise ArchiveError(f"{path}: folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise ArchiveError(
            f"{path}: already exists; pass overwrite=True (--force) to replace it"
        )
    if not os.access(path.parent, os.W_OK):
        raise ArchiveError(f"{path}: folder {path.parent} is not writable")
    with tempfile.TemporaryDirectory(
        prefix=".snapshot-", dir=path.parent
    ) as staging_name:
        staging = Path(staging_name)
        folder = staging / "members"
        folder.mkdir()
        for name, data in members.items():
            (folder / name).write_bytes(data)
        write_weights(folder / WEIGHTS_NAME)
        hashes = {
            name: sha256_bytes((folder / name).read_bytes())
            for name in sorted([*members, WEIGHTS_NAME])
        }
        manifest = manifest_for(hashes, None)
        (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        if check is not None:
            manifest = manifest_for(hashes, check(folder))
            (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        if layout == "zip":
            built = staging / "archive.zip"
            _zip_folder(folder, built)
        else:
            built = folder
        _replace(built, path)
    return manifest


def _zip_folder(folder: Path, destination: Path) -> None:
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(folder.iterdir()):
            info = zipfile.ZipInfo(member.name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.read_bytes())


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
    weights: bytes
    #: Every member's bytes, by name.
    members: dict[str, bytes]


def read_archive(path: Path) -> OpenedArchive:
    """Read the archive at ``path`` (zip or folder) and check every member's hash."""
    path = Path(path)
    if path.is_dir():
        members = _read_folder(path)
    elif path.is_file():
        members = _read_zip(path)
    else:
        raise ArchiveError(f"{path}: no such archive")
    if MANIFEST_NAME not in members:
        raise ArchiveError(f"{path}: not a keras-snapshot archive (no {MANIFEST_NAME})")
    manifest = ArchiveManifest.from_json(
        members[MANIFEST_NAME].decode("utf-8"), where=str(path)
    )
    for name in (manifest.module, manifest.weights):
        if name not in manifest.members:
            raise ArchiveError(f"{path}: manifest records no hash for member {name}")
    for name, expected in manifest.members.items():
        if name not in members:
            raise ArchiveError(f"{path}: member {name} is missing")
        if sha256_bytes(members[name]) != expected:
            raise ArchiveError(
                f"{path}: member {name} was changed after the archive was written"
            )
    return OpenedArchive(
        manifest=manifest,
        module_text=members[manifest.module].decode("utf-8"),
        weights=members[manifest.weights],
        members=members,
    )


def _read_folder(path: Path) -> dict[str, bytes]:
    return {
        child.name: child.read_bytes() for child in path.iterdir() if child.is_file()
    }


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ArchiveError(f"{path}: not a readable zip archive: {error}") from None
