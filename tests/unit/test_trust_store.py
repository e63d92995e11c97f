"""The trust store and the trust decision, without Keras."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from snapshot.errors import SnapshotError, UntrustedArchiveError
from snapshot.trust.policy import decide, parse_pin
from snapshot.trust.store import (
    STORE_VARIABLE,
    TrustStore,
    default_store,
    new_record,
)

DIGEST = "ab" * 32
OTHER = "cd" * 32


def _record(store: TrustStore, digest: str, how: str = "saved") -> None:
    store.record(
        new_record(sha256=digest, module="m_snapshot.py", archive=Path("a"), how=how)
    )


def test_a_record_trusts_exactly_its_hash(tmp_path: Path) -> None:
    store = TrustStore(tmp_path / "store")
    assert store.lookup(DIGEST) is None
    _record(store, DIGEST)
    record = store.lookup(DIGEST)
    assert record is not None and record.how == "saved"
    assert record.archive == str(Path("a").absolute())
    assert store.lookup(OTHER) is None
    assert [p.name for p in (tmp_path / "store").iterdir()] == [f"{DIGEST}.json"]
    assert (tmp_path / "store").stat().st_mode & 0o777 == 0o700


def test_the_first_record_stays(tmp_path: Path) -> None:
    store = TrustStore(tmp_path)
    _record(store, DIGEST, how="saved")
    _record(store, DIGEST, how="reviewed")
    record = store.lookup(DIGEST)
    assert record is not None and record.how == "saved"


def test_a_record_under_another_name_trusts_nothing(tmp_path: Path) -> None:
    store = TrustStore(tmp_path)
    _record(store, DIGEST)
    (tmp_path / f"{DIGEST}.json").rename(tmp_path / f"{OTHER}.json")
    assert store.lookup(OTHER) is None
    (tmp_path / f"{DIGEST}.json").write_text("{not json")
    assert store.lookup(DIGEST) is None


def test_records_of_a_later_version_are_read(tmp_path: Path) -> None:
    store = TrustStore(tmp_path)
    _record(store, DIGEST)
    path = tmp_path / f"{DIGEST}.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"signed_by": "x"}))
    assert store.lookup(DIGEST) is not None


def _record_many(folder: str, start: int) -> None:
    store = TrustStore(Path(folder))
    for index in range(50):
        # Half the hashes are shared between writers, half are each writer's own.
        digest = f"{index % 25 if index < 25 else start * 100 + index:064x}"
        _record(store, digest)


def test_concurrent_writers_leave_whole_records_and_no_temporary_files(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_record_many, args=(str(tmp_path), i)) for i in range(3)
    ]
    threads = [
        threading.Thread(target=_record_many, args=(str(tmp_path), i))
        for i in range(3, 6)
    ]
    for worker in [*processes, *threads]:
        worker.start()
    for worker in [*processes, *threads]:
        worker.join()
    assert all(p.exitcode == 0 for p in processes)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 25 + 6 * 25
    store = TrustStore(tmp_path)
    assert all(store.lookup(name.removesuffix(".json")) for name in names)


def test_the_store_folder_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_VARIABLE, str(tmp_path / "here"))
    assert default_store().folder == tmp_path / "here"
    monkeypatch.delenv(STORE_VARIABLE)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store().folder == tmp_path / "data" / "keras-snapshot" / "trusted"
    # The XDG specification: a relative XDG_DATA_HOME is ignored.
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    expected = tmp_path / "home" / ".local" / "share" / "keras-snapshot" / "trusted"
    assert default_store().folder == expected
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store().folder == expected


def test_an_unwritable_store_is_a_snapshot_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SnapshotError) as raised:
        _record(TrustStore(tmp_path / "file" / "store"), DIGEST)
    assert str(raised.value).startswith(
        f"cannot record trust in {tmp_path / 'file' / 'store'}: "
    )


def test_the_decision(tmp_path: Path) -> None:
    store = TrustStore(tmp_path)
    where = "/x/my archive.snapshot"

    def decided(trust: object) -> str:
        return decide(
            trust, sha256=DIGEST, module="m_snapshot.py", where=where, store=store  # type: ignore[arg-type]
        ).because

    assert decided(True) == "trusted by the caller (trust=True)"
    assert decided(f"sha256:{DIGEST}") == "pinned by the caller"
    assert decided(f"sha256:{DIGEST.upper()}") == "pinned by the caller"
    with pytest.raises(UntrustedArchiveError) as raised:
        decided(f"sha256:{OTHER}")
    assert str(raised.value) == (
        f"{where}: refusing to run m_snapshot.py: its sha256 is {DIGEST}, "
        f"not the pinned {OTHER}"
    )
    with pytest.raises(UntrustedArchiveError) as raised:
        decided(False)
    quoted = "'/x/my archive.snapshot'"
    assert str(raised.value) == (
        f"{where}: refusing to run m_snapshot.py (sha256:{DIGEST}): it was neither "
        f"saved nor trusted on this machine; read it with 'snapshot review {quoted}', "
        f"then run 'snapshot trust {quoted}' or pass trust=\"sha256:{DIGEST}\""
    )
    _record(store, DIGEST)
    assert decided(False).startswith("saved on this machine on ")
    for wrong in ("yes", 1, None, "sha256:12"):
        with pytest.raises(SnapshotError, match="trust must be True, False or"):
            decided(wrong)


def test_a_pin_is_sha256_and_64_hex_digits() -> None:
    assert parse_pin(f"sha256:{DIGEST.upper()}") == DIGEST
    for wrong in (DIGEST, f"sha256:{DIGEST}0", f"sha512:{DIGEST}", f" sha256:{DIGEST}"):
        with pytest.raises(SnapshotError):
            parse_pin(wrong)
