"""Archives are deterministic, and damaged archives only ever raise SnapshotError."""

from __future__ import annotations

import hashlib
import io
import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from archive_mutations import MUTATIONS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snapshot
from snapshot.archive.inspect import describe_archive
from snapshot.archive.reader import OpenedArchive, read_archive
from statecases.models import StoresUnits


@pytest.fixture(scope="module")
def model() -> StoresUnits:
    model = StoresUnits(2)
    model(np.ones((1, 3), "float32"))
    return model


@pytest.fixture(scope="module")
def good_bytes(model: StoresUnits, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = snapshot.save(
        model, tmp_path_factory.mktemp("good") / "a.snapshot", verify=False
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def intact_archive(
    good_bytes: bytes, tmp_path_factory: pytest.TempPathFactory
) -> tuple[OpenedArchive, bytes]:
    """The good archive as read, and its weights' bytes."""
    folder = tmp_path_factory.mktemp("intact")
    (folder / "good.snapshot").write_bytes(good_bytes)
    opened = read_archive(folder / "good.snapshot", weights_to=folder / "w.h5")
    return opened, (folder / "w.h5").read_bytes()


def test_saving_twice_gives_identical_members(
    model: StoresUnits, tmp_path: Path
) -> None:
    first = snapshot.save(model, tmp_path / "first.snapshot", verify=False)
    second = snapshot.save(model, tmp_path / "second.snapshot", verify=False)
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if name != "snapshot.json":
                assert a.read(name) == b.read(name), name
        manifest_a, manifest_b = json.loads(a.read("snapshot.json")), json.loads(
            b.read("snapshot.json")
        )
    del manifest_a["created"], manifest_b["created"]
    assert manifest_a == manifest_b


def test_weights_are_stored_and_the_manifest_comes_last(
    good_bytes: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "a.snapshot"
    path.write_bytes(good_bytes)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    kinds = {info.filename: info.compress_type for info in infos}
    assert kinds.pop("model.weights.h5") == zipfile.ZIP_STORED
    assert set(kinds.values()) == {zipfile.ZIP_DEFLATED}
    assert infos[-1].filename == "snapshot.json"


def test_reading_copies_exactly_the_hashed_weights(
    good_bytes: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "a.snapshot"
    path.write_bytes(good_bytes)
    opened = read_archive(path, weights_to=tmp_path / "copy.weights.h5")
    with zipfile.ZipFile(path) as archive:
        assert (tmp_path / "copy.weights.h5").read_bytes() == archive.read(
            "model.weights.h5"
        )
    assert "model.weights.h5" not in opened.members


def test_members_read_into_memory_are_bounded(
    good_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import snapshot.archive.reader

    path = tmp_path / "a.snapshot"
    path.write_bytes(good_bytes)
    with zipfile.ZipFile(path) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    weights_size = sizes.pop("model.weights.h5")
    largest = max(sizes, key=sizes.__getitem__)
    # The weights stream, so a bound below their size does not apply to them.
    assert weights_size > sizes[largest]
    monkeypatch.setattr(
        snapshot.archive.reader, "MAX_IN_MEMORY_BYTES", sizes[largest] - 1
    )
    with pytest.raises(snapshot.SnapshotError, match=f"member {largest} is too large"):
        read_archive(path)
    monkeypatch.setattr(snapshot.archive.reader, "MAX_IN_MEMORY_BYTES", sizes[largest])
    read_archive(path)


def test_an_archive_with_deflated_weights_still_loads(
    model: StoresUnits, good_bytes: bytes, tmp_path: Path
) -> None:
    # keras-snapshot 0.1.0 deflated every member, the weights included.
    old = tmp_path / "old.snapshot"
    with (
        zipfile.ZipFile(io.BytesIO(good_bytes)) as source,
        zipfile.ZipFile(old, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    with zipfile.ZipFile(old) as archive:
        assert archive.getinfo("model.weights.h5").compress_type == zipfile.ZIP_DEFLATED
    batch = np.ones((1, 3), "float32")
    loaded = snapshot.load(old)
    assert np.array_equal(loaded(batch), model(batch))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1), kind=st.sampled_from(MUTATIONS)
)
def test_damaged_archive_raises_only_snapshot_errors(
    good_bytes: bytes,
    intact_archive: tuple[OpenedArchive, bytes],
    tmp_path: Path,
    seed: int,
    kind: object,
) -> None:
    intact, intact_weights = intact_archive
    damaged = kind(good_bytes, random.Random(seed))  # type: ignore[operator]
    path = tmp_path / f"damaged-{seed}.snapshot"
    path.write_bytes(damaged)
    before = sorted(p.name for p in tmp_path.iterdir())
    weights = tmp_path / "weights.h5"
    try:
        opened = read_archive(path, weights_to=weights)
        describe_archive(path)
    except snapshot.SnapshotError:
        weights.unlink(missing_ok=True)
    else:
        # What is accepted is what the manifest vouches for: every member
        # hashes to its entry, and under the intact manifest, every member is
        # what was written. (A mutation that rewrites the manifest's hashes
        # too is accepted as an archive; its changed module then needs trust.)
        accepted_weights = weights.read_bytes()
        weights.unlink()
        recorded = opened.manifest.members
        for name, data in opened.members.items():
            assert hashlib.sha256(data).hexdigest() == recorded[name]
        assert (
            hashlib.sha256(accepted_weights).hexdigest()
            == recorded[opened.manifest.weights]
        )
        if opened.manifest == intact.manifest:
            assert opened.members == intact.members
            assert accepted_weights == intact_weights
    finally:
        path.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        name for name in before if name != path.name
    ]


def test_concurrent_saves_to_one_path_leave_a_whole_archive(tmp_path: Path) -> None:
    import threading

    models = [StoresUnits(units) for units in (2, 3, 4)]
    for each in models:
        each(np.ones((1, 3), "float32"))
    target = tmp_path / "shared.snapshot"
    errors: list[BaseException] = []

    def save(each: StoresUnits) -> None:
        try:
            snapshot.save(each, target, verify=False, overwrite=True)
        except BaseException as error:  # collected and re-raised below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(each,)) for each in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    loaded = snapshot.load(target)
    assert loaded.units in (2, 3, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.snapshot"]
