"""First-party, third-party and stdlib modules, and the intern/extern overrides."""

from __future__ import annotations

import pytest

from snapshot.analysis.modules import Origin, classify, find_module
from snapshot.config import SnapshotConfig

DEFAULT = SnapshotConfig()


@pytest.mark.parametrize(
    ("module", "origin"),
    [
        ("os.path", Origin.STDLIB),
        ("json", Origin.STDLIB),
        ("__future__", Origin.STDLIB),
        ("keras.layers", Origin.THIRD_PARTY),
        ("numpy", Origin.THIRD_PARTY),
        ("not_installed_anywhere", Origin.THIRD_PARTY),
        ("zoo.layers.dense", Origin.FIRST_PARTY),
        ("seed_pickle", Origin.FIRST_PARTY),
    ],
)
def test_default_split(module: str, origin: Origin) -> None:
    assert classify(module, config=DEFAULT) is origin


def test_intern_and_extern_override_the_split() -> None:
    config = SnapshotConfig(
        intern=["keras.src.layers*"], extern=["zoo.layers", "zoo.block?"]
    )
    assert classify("keras.src.layers.core.dense", config=config) is Origin.FIRST_PARTY
    assert classify("keras.src.ops", config=config) is Origin.THIRD_PARTY
    assert classify("zoo.layers.dense", config=config) is Origin.THIRD_PARTY
    assert classify("zoo.blocks.encoder", config=config) is Origin.THIRD_PARTY
    assert classify("zoo.models", config=config) is Origin.FIRST_PARTY


def test_find_module_does_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "badzoo.model", raising=False)
    found = find_module("badzoo.model")
    assert found is not None
    assert found.path.name == "model.py"
    assert not found.is_package
    assert "badzoo.model" not in sys.modules
    assert find_module("badzoo.nothing_here") is None
