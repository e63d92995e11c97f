"""The example models snapshotted by the functional tests and kept in generated_examples/.

Each case builds a live model (trained or called once) and an example batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
ASSETS = Path(__file__).resolve().parent / "assets"
GENERATED = REPO / "generated_examples"


@dataclass(frozen=True)
class Case:
    """A model to snapshot, and where its code lives."""

    name: str
    #: Returns the live model and an example batch.
    make: Callable[[], tuple[Any, Any]]
    #: Top-level modules of the model's own code; blocked in isolated checks.
    first_party: tuple[str, ...]
    #: CLI target and build options, for the command-line round trip.
    cli_target: str | None = None
    cli_options: tuple[str, ...] = ()
    #: Installed packages whose code the snapshot extracts (``intern=``).
    intern: tuple[str, ...] = ()


def _probe(rows: int = 2, columns: int = 3) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(rows, columns)).astype("float32")


def _seed(module_name: str) -> Callable[[], tuple[Any, Any]]:
    def make() -> tuple[Any, Any]:
        import importlib

        model = importlib.import_module(module_name).train()
        return model, _probe()

    return make


def _zoo() -> tuple[Any, Any]:
    from zoo import Classifier

    batch = _probe(2, 5)
    model = Classifier(num_classes=4, hidden=8)
    model(batch)
    return model, batch


def _patterns() -> tuple[Any, Any]:
    from patterns import PatternNet

    batch = _probe(2, 5)
    model = PatternNet(units=6, depth=3, mode="mean")
    model(batch)
    return model, batch


def _text_classifier() -> tuple[Any, Any]:
    from graphnets import make_text_classifier

    batch = np.array([["the", "cat", "sat", "dog"], ["on", "mat", "the", "the"]])
    model = make_text_classifier()
    model(batch)
    return model, batch


def _sequential() -> tuple[Any, Any]:
    from graphnets import make_sequential

    batch = _probe(2, 5)
    model = make_sequential()
    model(batch)
    return model, batch


CASES = (
    Case(
        "seed_pickle",
        _seed("seed_pickle"),
        ("seed_pickle",),
        "seed_pickle:MyModel",
    ),
    Case(
        "seed_custom_layer",
        _seed("seed_custom_layer"),
        ("seed_custom_layer",),
        "seed_custom_layer:MyModel",
    ),
    Case(
        "seed_model_from_config",
        _seed("seed_model_from_config"),
        ("seed_model_from_config",),
        "seed_model_from_config:MySubclassedModel",
        (
            "--config",
            '{"config": [{"type": "Dense", "kwargs": {"units": 64, "activation": "relu"}},'
            ' {"type": "Dense", "kwargs": {"units": 10}}]}',
        ),
    ),
    Case("zoo_classifier", _zoo, ("zoo",)),
    Case("patterns_net", _patterns, ("patterns",)),
    # Keras' own functional and Sequential models, made by factory functions.
    Case("graphnets_text_classifier", _text_classifier, ("graphnets",)),
    Case("graphnets_sequential", _sequential, ("graphnets",)),
)
