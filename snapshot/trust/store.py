"""The trust store: one small JSON file per trusted module, named by its sha256.

It lives in ``$KERAS_SNAPSHOT_TRUST_DIR`` when set, else in
``${XDG_DATA_HOME:-~/.local/share}/keras-snapshot/trusted/``. One file per
hash needs no lock: each is written to a temporary name and renamed into
place, so concurrent writers (a training script saving every epoch, two
processes trusting the same archive) each leave a whole record, and a reader
sees a record whole or not at all. Deleting a file withdraws the trust.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from snapshot.errors import SnapshotError, one_line
from snapshot.version import __version__

#: Environment variable naming the folder of the trust store.
STORE_VARIABLE = "KERAS_SNAPSHOT_TRUST_DIR"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Records are a few hundred bytes; anything far larger is not one.
_MAX_RECORD_BYTES = 64 << 10


@dataclass(frozen=True)
class TrustRecord:
    """Why a module is trusted: what it was, where it came from, when and how."""

    sha256: str
    #: The module's file name in the archive.
    module: str
    #: The archive it was trusted from (absolute path).
    archive: str
    #: ``saved`` (written by ``snapshot.save`` here) or ``reviewed`` (``snapshot trust``).
    how: str
    #: UTC, ISO 8601.
    when: str
    #: The keras-snapshot version that wrote the record.
    keras_snapshot: str = __version__

    def describe(self) -> str:
        """``saved on this machine on 2025-01-01T00:00:00+00:00 as /x/a.snapshot``."""
        verb = "saved" if self.how == "saved" else "reviewed and trusted"
        return f"{verb} on this machine on {self.when} as {self.archive}"


_FIELDS = frozenset(field.name for field in fields(TrustRecord))


def new_record(*, sha256: str, module: str, archive: Path, how: str) -> TrustRecord:
    """A record stamped now."""
    return TrustRecord(
        sha256=sha256,
        module=module,
        archive=str(Path(archive).absolute()),
        how=how,
        when=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


@dataclass(frozen=True)
class TrustStore:
    """The folder of trust records."""

    folder: Path

    def lookup(self, sha256: str) -> TrustRecord | None:
        """The record for ``sha256``, or None when that module is not trusted here."""
        if not _SHA256.match(sha256):
            return None
        try:
            with (self.folder / f"{sha256}.json").open("rb") as stream:
                data = json.loads(stream.read(_MAX_RECORD_BYTES))
            # Fields a later version adds are ignored.
            record = TrustRecord(**{k: v for k, v in data.items() if k in _FIELDS})
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        # A record copied under another name does not trust this module.
        return record if record.sha256 == sha256 else None

    def record(self, record: TrustRecord) -> TrustRecord:
        """Add ``record`` unless its module is already trusted; returns the one kept.

        The first record of a module stays: saving the same model every epoch
        costs one lookup.
        """
        if not _SHA256.match(record.sha256):
            raise SnapshotError(f"not a sha256 digest: {record.sha256!r}")
        kept = self.lookup(record.sha256)
        if kept is not None:
            return kept
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(
                dir=self.folder, prefix=f".{record.sha256[:16]}-", suffix=".tmp"
            )
        except OSError as error:
            raise self._cannot_write(error) from None
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump(asdict(record), stream, indent=2, sort_keys=True)
                stream.write("\n")
            os.replace(temporary, self.folder / f"{record.sha256}.json")
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise self._cannot_write(error) from None
        return record

    def _cannot_write(self, error: OSError) -> SnapshotError:
        return SnapshotError(f"cannot record trust in {self.folder}: {one_line(error)}")


def default_store() -> TrustStore:
    """The store ``$KERAS_SNAPSHOT_TRUST_DIR`` names, or the user's data folder's."""
    configured = os.environ.get(STORE_VARIABLE)
    if configured:
        return TrustStore(Path(configured).expanduser().absolute())
    data_home = os.environ.get("XDG_DATA_HOME", "")
    # The XDG specification: a relative path is invalid and ignored.
    base = (
        Path(data_home)
        if data_home and Path(data_home).is_absolute()
        else Path.home() / ".local" / "share"
    )
    return TrustStore(base / "keras-snapshot" / "trusted")
