"""Keras' own functional and Sequential models, written as code from their graphs.

The models come from factory functions in ``tests/assets/graphnets``; the
snapshot must not need the factories, nor any other code of that package.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import graphnets
import keras
import numpy as np
import pytest
from graphnets.activations import scaled_tanh
from graphnets.blocks import encoder_block

import snapshot
from conftest import randomize_weights, round_trip_in_isolation
from snapshot.api import module_source
from snapshot.capture.record import CONSTRUCTOR_CALLS

_RNG = np.random.default_rng(11)
WORDS = np.array([["the", "cat", "sat", "dog"], ["on", "mat", "the", "the"]])
FEATURES = _RNG.normal(size=(2, 4)).astype("float32")


def import_generated_module(path: Path, name: str, *, where: str) -> Any:
    """Import a generated module from its file, as a user of an unpacked archive does."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, where
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _called(model: Any, inputs: Any) -> tuple[Any, Any]:
    """The model called once, then given random weights a wrong load would show."""
    model(inputs)
    randomize_weights(model, np.random.default_rng(5), low=0.1, high=0.9)
    return model, inputs


def _unbuilt_sequential() -> keras.Sequential:
    # No Input: built by its first call, from the recorded input shapes.
    return keras.Sequential(
        [keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)]
    )


def _name_clash() -> keras.Model:
    """A layer named like the function the module extracts, its output in a list."""
    inputs = keras.Input(shape=(4,), name="x")
    clash = keras.layers.Dense(4, activation=scaled_tanh, name="scaled_tanh")(inputs)
    other = keras.layers.Dense(4, name="other")(inputs)
    joined = keras.layers.Concatenate(name="join")([clash, other])
    return keras.Model(inputs, joined, name="name_clash")


@pytest.fixture(scope="module")
def graph_models() -> dict[str, tuple[Any, Any]]:
    dict_inputs = {
        "image": _RNG.normal(size=(2, 6)).astype("float32"),
        "meta": _RNG.normal(size=(2, 2)).astype("float32"),
    }
    return {
        "text_classifier": _called(graphnets.make_text_classifier(), WORDS),
        "sequential": _called(
            graphnets.make_sequential(), _RNG.normal(size=(2, 5)).astype("float32")
        ),
        "unbuilt_sequential": _called(_unbuilt_sequential(), FEATURES),
        "two_heads": _called(graphnets.make_multi_output(), [FEATURES, FEATURES * 2]),
        "dict_model": _called(graphnets.make_dict_model(), dict_inputs),
        "stacked": _called(graphnets.make_stacked(), FEATURES),
        "name_clash": _called(_name_clash(), FEATURES),
        "tower": _called(graphnets.Tower(4), FEATURES),
        "wrapper": _called(
            graphnets.Wrapper(encoder_block(4, name="backbone")), FEATURES
        ),
    }


def test_graph_models_round_trip_exactly_without_their_code(
    graph_models: dict[str, tuple[Any, Any]], tmp_path: Path
) -> None:
    found = round_trip_in_isolation(graph_models, tmp_path, blocked=("graphnets",))
    for name, result in found.items():
        assert result.get("error") is None, (name, result)
        assert result["count"] == result["expected_count"], name
        assert result["diff"] == 0.0, (name, result["diff"])


def test_functional_factory_is_written_as_layer_calls(
    graph_models: dict[str, tuple[Any, Any]],
) -> None:
    model, batch = graph_models["two_heads"]
    text = module_source(model, inputs=batch)
    # The shared layer is made once and called twice.
    assert 'shared = keras.layers.Dense(units=6, name="shared")' in text
    assert "shared_output = shared(left)" in text
    assert "shared_output_2 = shared(right)" in text
    # Keras ops written through their public functions; several outputs unpacked.
    assert "add = keras.ops.add(halves, halves_2)" in text
    assert 'keras.tree.flatten(SplitHalves(name="halves")(join))' in text
    assert "outputs=[score, label]" in text
    assert "MODEL_CLASS = keras.Model" in text
    # Neither the factory nor Keras' own classes are copied; nothing first-party imported.
    assert "def make_multi_output" not in text
    assert "class Functional" not in text and "class Sequential" not in text
    assert "graphnets" not in text.split("# Sources")[0]


def test_sequential_writes_first_party_parts_by_name(
    graph_models: dict[str, tuple[Any, Any]],
) -> None:
    model, batch = graph_models["sequential"]
    text = module_source(model, inputs=batch)
    assert "activation=scaled_tanh," in text
    assert "kernel_initializer=ScaledNormal(scale=0.5, seed=3)," in text
    assert "kernel_regularizer=L1Budget(budget=0.001)," in text
    assert "kernel_constraint=ClipTo(limit=2.0)," in text
    assert "class ScaledNormal(keras.initializers.Initializer):" in text
    assert "MODEL_CLASS = keras.Sequential" in text
    assert "class Sequential" not in text


def test_nested_functional_argument_gets_its_own_builder(
    graph_models: dict[str, tuple[Any, Any]],
) -> None:
    model, batch = graph_models["wrapper"]
    text = module_source(model, inputs=batch)
    assert "def make_backbone():" in text
    assert "model = Wrapper(backbone=make_backbone())" in text


def test_unrecorded_layers_are_written_from_config_and_listed(
    tmp_path: Path,
) -> None:
    """Layers made before ``import snapshot``: Keras' own from their differing
    arguments, a custom one from its config (which Keras records itself for
    plain arguments), which the manifest names."""
    inputs = keras.Input(shape=(4,), name="x")
    dense = keras.layers.Dense(3, activation="tanh", use_bias=False, name="plain")
    scale = graphnets.layers.Scale(0.5, name="scaled")
    bonus = keras.layers.Dense(2, name="bonus")
    model = keras.Model(inputs, bonus(scale(dense(inputs))), name="unrecorded")
    model, batch = _called(model, FEATURES)
    for layer in (dense, scale):
        del CONSTRUCTOR_CALLS[layer]
    text = module_source(model, inputs=batch)
    assert 'units=3, activation="tanh", use_bias=False, name="plain"' in text
    assert 'Scale.from_config(\n        {\n            "name": "scaled",' in text
    assert '"initial": 0.5' in text
    found = round_trip_in_isolation(
        {"unrecorded": (model, batch)}, tmp_path, blocked=("graphnets",)
    )
    assert found["unrecorded"].get("error") is None, found
    assert found["unrecorded"]["diff"] == 0.0
    with zipfile.ZipFile(tmp_path / "unrecorded.snapshot") as opened:
        manifest = json.loads(opened.read("snapshot.json"))
    assert manifest["model"]["layers_from_config"] == ["unrecorded/scaled"]
    assert manifest["model"]["constructor_args_from"] == "functional graph"
    assert manifest["class"] == "keras.Model"
    assert manifest["module"] == "unrecorded_snapshot.py"


def test_lambda_layer_is_refused_naming_the_function(tmp_path: Path) -> None:
    inputs = keras.Input(shape=(4,))
    doubled = keras.layers.Lambda(lambda x: x * 2, name="double")(inputs)
    model = keras.Model(inputs, doubled, name="with_lambda")
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(model, tmp_path / "l.snapshot", inputs=FEATURES)
    line = test_lambda_layer_is_refused_naming_the_function.__code__.co_firstlineno + 2
    assert str(raised.value) == (
        "the functional model 'with_lambda': layer 'double' of 'with_lambda' uses the "
        f"function test_lambda_layer_is_refused_naming_the_function.<locals>.<lambda> "
        f"({__file__}:{line}), which is not defined at the top level of a module; "
        "define it with def or class at the top level of a .py module"
    )
    assert list(tmp_path.iterdir()) == []


def test_two_models_of_one_name_are_refused(tmp_path: Path) -> None:
    # Equal graphs share one builder; different ones cannot.
    first = encoder_block(4, name="twin")
    second = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(4)], name="twin"
    )
    model = graphnets.Pair(first, second)
    model(FEATURES)
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(model, tmp_path / "t.snapshot", inputs=FEATURES)
    assert str(raised.value) == (
        "two different Keras models are named 'twin'; give each its own name= "
        "(the snapshot writes one function per model)"
    )
    assert list(tmp_path.iterdir()) == []


def test_layer_held_by_two_nested_models_is_refused(tmp_path: Path) -> None:
    dense = keras.layers.Dense(4, name="both")
    inner_in = keras.Input(shape=(4,), name="inner_in")
    inner = keras.Model(inner_in, dense(inner_in), name="inner")
    outer_in = keras.Input(shape=(4,), name="outer_in")
    model = keras.Model(outer_in, dense(inner(outer_in)), name="outer")
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(model, tmp_path / "s.snapshot", inputs=FEATURES)
    assert str(raised.value) == (
        "the functional model 'outer': layer 'both' belongs both to model 'outer' "
        "and to model 'inner' nested with it; the snapshot would make it twice. "
        "Use it in one of them only"
    )
    assert list(tmp_path.iterdir()) == []


def test_config_is_refused_for_a_graph(tmp_path: Path) -> None:
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(
            graphnets.make_stacked(), tmp_path / "c.snapshot", config={"units": 4}
        )
    assert str(raised.value) == (
        "config= gives constructor arguments, but 'stacked' is a Keras functional "
        "model, rebuilt from its graph; leave config= out"
    )


def test_string_model_builds_on_its_example_inputs(
    graph_models: dict[str, tuple[Any, Any]], tmp_path: Path
) -> None:
    model, batch = graph_models["text_classifier"]
    folder = snapshot.save(model, tmp_path / "t", inputs=batch, layout="dir")
    module = import_generated_module(
        folder / "text_classifier_snapshot.py", "text_classifier_check", where="test"
    )
    assert (
        keras.ops.convert_to_numpy(module.example_inputs()).tolist() == [[b""] * 4] * 2
    )
    rebuilt = module.load_model()
    assert tuple(rebuilt(module.example_inputs()).shape) == (2, 3)
    np.testing.assert_array_equal(rebuilt(batch), model(batch))


def test_automatic_layer_names_are_kept(
    graph_models: dict[str, tuple[Any, Any]],
) -> None:
    """A rebuilt layer would otherwise take the next free name of its process."""
    model, batch = graph_models["unbuilt_sequential"]
    text = module_source(model, inputs=batch)
    for layer in model.layers:
        assert f'name="{layer.name}")' in text


def test_layers_frozen_after_construction_stay_frozen(tmp_path: Path) -> None:
    model = graphnets.make_stacked()
    model.get_layer("inner_block").trainable = False
    model.get_layer("head").trainable = False
    model(FEATURES)
    folder = snapshot.save(model, tmp_path / "f", inputs=FEATURES, layout="dir")
    module = import_generated_module(
        folder / "stacked_snapshot.py", "stacked_check", where="test"
    )
    rebuilt = module.load_model()
    assert [layer.trainable for layer in rebuilt.layers] == [
        layer.trainable for layer in model.layers
    ]
    assert len(rebuilt.trainable_weights) == len(model.trainable_weights) == 0


def test_local_names_keep_clear_of_module_names(
    graph_models: dict[str, tuple[Any, Any]],
) -> None:
    model, batch = graph_models["name_clash"]
    text = module_source(model, inputs=batch)
    assert "\ndef scaled_tanh(x):" in text
    assert "scaled_tanh_ = keras.layers.Dense(" in text
    assert "([scaled_tanh_, other])" in text


def test_every_graph_module_passes_black_and_pyflakes_rules(
    graph_models: dict[str, tuple[Any, Any]], tmp_path: Path
) -> None:
    files = []
    for name, (model, batch) in graph_models.items():
        path = tmp_path / f"{name}_snapshot.py"
        path.write_text(module_source(model, inputs=batch), encoding="utf-8")
        files.append(str(path))
    black = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", *files],
        capture_output=True,
        text=True,
    )
    assert black.returncode == 0, black.stderr
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F", *files],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
