"""Archives are deterministic, and damaged archives only ever raise SnapshotError."""

from __future__ import annotations

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
from snapshot.archive import read_archive
from snapshot.inspect_archive import describe_archive
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


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1), kind=st.sampled_from(MUTATIONS)
)
def test_damaged_archive_raises_only_snapshot_errors(
    good_bytes: bytes, tmp_path: Path, seed: int, kind: object
) -> None:
    damaged = kind(good_bytes, random.Random(seed))  # type: ignore[operator]
    path = tmp_path / f"damaged-{seed}.snapshot"
    path.write_bytes(damaged)
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        read_archive(path)
        describe_archive(path)
    except snapshot.SnapshotError:
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    path.unlink()


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
