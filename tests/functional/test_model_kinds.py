"""Model kinds beyond a subclassed model with a call() of its own (issue 11, items 2-6).

Each model is a fixture package under tests/assets/kinds/: saved, then loaded
in a fresh ``python -I`` interpreter in an empty folder where ``kinds`` cannot
be imported, with weights randomized after the first call; outputs must be
bit-exact.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import snapshot
from conftest import (
    SCRIPTS,
    TESTS,
    randomize_weights,
    round_trip_in_isolation,
    run_isolated,
    run_python,
)

RNG = np.random.default_rng(23)


def _trained(model: keras.Model, inputs: Any) -> tuple[keras.Model, Any]:
    model(inputs)
    randomize_weights(model, RNG, low=0.1, high=0.5)
    return model, inputs


def _models() -> dict[str, tuple[keras.Model, Any]]:
    from kinds import adapted, graphs, stochastic, text, vocab

    features, edges, weights = graphs.make_graph()
    images = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    token_model, tokens = text.train_token_classifier()
    sentence_model, sentences = text.train_sentence_classifier()
    global_model, global_tokens = text.train_global_token_classifier()
    return {
        "augmentation_and_dropout": _trained(
            stochastic.AugmentedClassifier(classes=3), images
        ),
        "graph_arrays_and_tensor": _trained(
            graphs.GraphNet(features, edges, weights, units=6),
            np.array([0, 5, 63], "int32"),
        ),
        "adapted_lookup_inside": _trained(token_model, tokens),
        "adapted_text_vectorization": _trained(sentence_model, sentences),
        "module_level_adapted_lookup": _trained(global_model, global_tokens),
        "module_level_normalizer_and_augmentation": _trained(
            adapted.NormalizedRegressor(units=3),
            RNG.normal(size=(2, 3)).astype("float32"),
        ),
        "module_value_read_from_a_file": _trained(
            vocab.VocabularyClassifier(), np.array([["the", "fox"], ["cat", "quick"]])
        ),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("kinds")
    models = _models()
    found = round_trip_in_isolation(models, work, blocked=("kinds",))
    return {"found": found, "work": work}


_KINDS = [
    "augmentation_and_dropout",
    "graph_arrays_and_tensor",
    "adapted_lookup_inside",
    "adapted_text_vectorization",
    "module_level_adapted_lookup",
    "module_level_normalizer_and_augmentation",
    "module_value_read_from_a_file",
]


@pytest.mark.parametrize("name", _KINDS)
def test_kind_round_trips_exactly_in_isolation(
    saved: dict[str, Any], name: str
) -> None:
    found = saved["found"][name]
    assert "error" not in found, found["error"]
    assert found["count"] == found["expected_count"]
    assert found["diff"] == 0.0


def _archive(saved: dict[str, Any], name: str) -> tuple[dict[str, Any], str, set[str]]:
    with zipfile.ZipFile(saved["work"] / f"{name}.snapshot") as opened:
        manifest = json.loads(opened.read("snapshot.json"))
        return (
            manifest,
            opened.read(manifest["module"]).decode(),
            set(opened.namelist()),
        )


def test_array_and_tensor_arguments_are_an_archive_member(
    saved: dict[str, Any],
) -> None:
    manifest, text, names = _archive(saved, "graph_arrays_and_tensor")
    assert manifest["arrays"] == {
        "member": "arrays.npz",
        "names": ["features", "edges", "edge_weights"],
    }
    assert "arrays.npz" in names and manifest["members"]["arrays.npz"]
    assert (
        "    model = GraphNet(\n"
        '        features=keras.ops.convert_to_tensor(ARRAYS["features"]),\n'
        '        edges=ARRAYS["edges"],\n'
        '        edge_weights=ARRAYS["edge_weights"],\n'
        "        units=6,\n"
        "    )\n"
    ) in text
    assert 'ARRAYS = read_arrays("arrays.npz")\n' in text
    # 5,000 edges and their weights are not code.
    assert len(text.splitlines()) < 200


def test_vocabularies_are_assets_loaded_before_the_first_call(
    saved: dict[str, Any],
) -> None:
    manifest, text, names = _archive(saved, "adapted_lookup_inside")
    assert manifest["assets"] == {
        "member": "assets.npz",
        "layers": {"model.lookup": ["vocabulary.txt"]},
    }
    assert "assets.npz" in names
    construct = text.index("    model = TokenClassifier(")
    load = text.index('    load_assets({"model.lookup": model.lookup})\n')
    build = text.index("        model(example_inputs())")
    assert construct < load < build


def test_module_level_objects_are_state_and_their_code_is_not_extracted(
    saved: dict[str, Any],
) -> None:
    manifest, text, names = _archive(saved, "module_level_normalizer_and_augmentation")
    assert manifest["module_state"] == {
        "member": "module_state.weights.h5",
        "objects": {"AUGMENT": "kinds.adapted:14", "NORMALIZER": "kinds.adapted:12"},
    }
    assert "module_state.weights.h5" in names
    assert (
        "# kinds.adapted, line 12\n"
        "NORMALIZER = keras.layers.Normalization()\n\n"
        "# kinds.adapted, line 14\n"
        "AUGMENT = make_augment()\n"
    ) in text
    # A module-level Sequential is a Keras graph, written as one.
    # (Automatic layer names depend on what the process made before.)
    noise = text.index("            keras.layers.GaussianNoise(stddev=0.3, name=")
    assert noise < text.index("            keras.layers.Dropout(rate=0.5, name=")
    assert (
        "restore_module_state(\n"
        '    [(AUGMENT, {"input_shape": (2, 3)}), (NORMALIZER, {"input_shape": (10, 3)})]\n'
        ")\n"
    ) in text
    # The data pipeline that adapted it: neither the file read nor adapt().
    for absent in ("FEATURES", "features.npy", ".adapt(", "np.load"):
        assert absent not in text


def test_a_value_read_from_a_file_at_import_is_stored_as_data(
    saved: dict[str, Any],
) -> None:
    _, text, _ = _archive(saved, "module_value_read_from_a_file")
    assert (
        "# kinds.vocab, line 8 (its code calls .read_text())\n"
        'VOCABULARY = ["the", "quick", "brown", "fox"]\n'
    ) in text
    assert "read_text" not in text.replace("(its code calls .read_text())", "")


def test_generated_modules_read_only_their_own_members_at_import(
    saved: dict[str, Any],
) -> None:
    from snapshot.archive.audit import audit_module

    for name in _KINDS:
        manifest, text, _ = _archive(saved, name)
        assert audit_module(text, allowed_packages=manifest["imports"]).findings == ()
        own = {"arrays.npz", "assets.npz", "module_state.weights.h5"}
        read = {
            line.split('"')[1]
            for line in text.splitlines()
            if "read_arrays(" in line and '"' in line
        } | ({"module_state.weights.h5"} if "MODULE_STATE_FILE = " in text else set())
        assert read <= own, (name, read)


def test_augmentation_and_dropout_without_a_training_argument_verify(
    tmp_path: Path,
) -> None:
    from kinds.stochastic import AugmentedClassifier

    from snapshot.capture import probe
    from snapshot.capture.state import TensorSpec

    images = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    model, _ = _trained(AugmentedClassifier(), images)
    # Random unless Keras is told it is inference.
    assert not np.array_equal(np.asarray(model(images)), np.asarray(model(images)))
    spec = TensorSpec(images.shape, "float32")
    first = probe.run(model, spec, (images,))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(first, probe.run(model, spec, (images,)), strict=True)
    )
    archive = snapshot.save(model, tmp_path / "augmented.snapshot")
    with zipfile.ZipFile(archive) as opened:
        verification = json.loads(opened.read("snapshot.json"))["verification"]
    assert verification["max_abs_diff"] == 0.0


# Models without call() ------------------------------------------------------------


def test_a_trainer_without_call_round_trips_through_its_sub_models(
    tmp_path: Path,
) -> None:
    from kinds.trainers import train

    vae = train()
    randomize_weights(vae, RNG, low=0.1, high=0.5)
    archive = snapshot.save(vae, tmp_path / "vae.snapshot")  # verified
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("snapshot.json"))
        text = opened.read(manifest["module"]).decode()
    assert manifest["verification"]["max_abs_diff"] == 0.0
    assert manifest["model"]["inputs"] == {
        "submodels": [
            ["encoder", {"dtype": "float32", "shape": [8, 6]}],
            ["decoder", {"dtype": "float32", "shape": [8, 2]}],
        ]
    }
    assert (
        "    model = VAE(encoder=Encoder(latent_dim=2), decoder=Decoder(features=6), beta=0.5)\n"
    ) in text
    assert (
        "        # VAE has no call(): each sub-model is built on its own inputs.\n"
        "        for name, inputs in example_inputs().items():\n"
        "            getattr(model, name)(inputs)\n"
        "        model.built = True\n"
    ) in text
    data = RNG.uniform(size=(3, 6)).astype("float32")
    latent = RNG.normal(size=(3, 2)).astype("float32")
    # The sampling layer draws at inference: both sides start from one state.
    vae.encoder.sampling.seed_generator.state.assign(np.array([7, 0], "uint32"))
    expected = [np.asarray(o) for o in vae.encoder(data)] + [
        np.asarray(vae.decoder(latent))
    ]
    outputs = {f"arr_{i}": array for i, array in enumerate(expected)}
    np.savez(tmp_path / "io.npz", data=data, latent=latent, **outputs)
    found = run_isolated(
        f"""
        import json
        import numpy as np
        import snapshot
        io = np.load({str(tmp_path / "io.npz")!r})
        vae = snapshot.load({str(archive)!r})
        vae.encoder.sampling.seed_generator.state.assign(np.array([7, 0], "uint32"))
        got = [np.asarray(o) for o in vae.encoder(io["data"])]
        got.append(np.asarray(vae.decoder(io["latent"])))
        print(json.dumps({{
            "class": type(vae).__name__,
            "diffs": [float(np.abs(g - io[f"arr_{{i}}"]).max()) for i, g in enumerate(got)],
            "trains": callable(getattr(vae, "train_step", None)),
        }}))
        """,
        blocked=("kinds",),
        workdir=tmp_path / "empty",
    )
    assert found == {"class": "VAE", "diffs": [0.0, 0.0, 0.0, 0.0], "trains": True}


def test_a_model_without_call_and_wrong_inputs_is_told_what_to_pass(
    tmp_path: Path,
) -> None:
    from kinds.trainers import train

    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(train(), tmp_path / "vae.snapshot", inputs=np.zeros((2, 6)))
    assert str(raised.value) == (
        "VAE has no call() method: pass inputs= as a dict of example batches by "
        "sub-model ('encoder', 'decoder'), or leave it out to use the shapes they "
        "were built with"
    )
    assert list(tmp_path.iterdir()) == []


# Module-level state adapted by a training script ----------------------------------


def test_module_level_preprocessing_adapted_by_the_training_script(
    tmp_path: Path,
) -> None:
    completed = run_python(str(SCRIPTS / "train_preprocessed.py"), str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = run_isolated(
        f"""
        import json
        import numpy as np
        import snapshot
        expected = np.load({str(tmp_path / "expected.npz")!r})
        model = snapshot.load({str(tmp_path / "regressor.snapshot")!r})
        got = np.asarray(model(expected["x"], training=False))
        print(json.dumps({{"diff": float(np.abs(got - expected["y"]).max())}}))
        """,
        blocked=("kinds", "train_preprocessed"),
        workdir=tmp_path / "empty",
    )
    assert found == {"diff": 0.0}
    with zipfile.ZipFile(tmp_path / "regressor.snapshot") as opened:
        manifest = json.loads(opened.read("snapshot.json"))
    assert manifest["verification"]["max_abs_diff"] == 0.0
    assert set(manifest["module_state"]["objects"]) == {"NORMALIZER", "AUGMENT"}


# What cannot be captured is refused, naming file:line, before anything is written --


def _refusal(model_class: str, tmp_path: Path) -> snapshot.SnapshotError:
    import importlib

    module, _, name = model_class.partition(":")
    model = getattr(importlib.import_module(module), name)()
    model(np.ones((1, 3), "float32"))
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.save(model, tmp_path / "refused.snapshot")
    assert list(tmp_path.iterdir()) == []
    return raised.value


def test_a_class_reading_a_file_when_defined_is_refused(tmp_path: Path) -> None:
    error = _refusal("kinds.refused:UsesTable", tmp_path)
    path = TESTS / "assets" / "kinds" / "refused.py"
    assert isinstance(error, snapshot.UnsupportedSourceError)
    assert str(error) == (
        "cannot extract the model's code:\n"
        "* Reads files, downloads or trains when the module is imported, and is not "
        "a value the snapshot can store; do it inside a function the model calls, or "
        "pass the data as a constructor argument.\n"
        f"    {path}:13  class Table calls .read_text()"
    )


def test_a_value_from_a_file_that_is_not_data_is_refused(tmp_path: Path) -> None:
    error = _refusal("kinds.refused:UsesScaler", tmp_path)
    path = TESTS / "assets" / "kinds" / "refused.py"
    assert str(error).splitlines()[-1] == (
        f"    {path}:21  SCALER calls .read_text() (through "
        "kinds.refused.load_scaler), and its value, a function, is not data"
    )


def test_module_level_state_read_as_the_module_is_imported_is_refused(
    tmp_path: Path,
) -> None:
    error = _refusal("kinds.defaults:NormalizedByDefault", tmp_path)
    path = TESTS / "assets" / "kinds" / "defaults.py"
    assert str(error) == (
        "cannot extract the model's code:\n"
        "* Reads, as the module is imported, a module-level Keras object or computed "
        "value that the snapshot stores as state; read it inside a method instead.\n"
        f"    {path}:9  NORMALIZER (stored as state, made after the code)"
    )


def test_module_level_layers_written_from_config_are_listed(tmp_path: Path) -> None:
    """A module-level Sequential's own layer made before ``import snapshot``
    (here: its recorded call forgotten) is written from its config, and the
    manifest says so, as it does for the model's own graphs."""
    from kinds import stem

    from snapshot.api import module_source
    from snapshot.capture.record import CONSTRUCTOR_CALLS

    features = np.random.default_rng(2).normal(size=(2, 4)).astype("float32")
    shift = stem.STEM.layers[1]
    recorded = CONSTRUCTOR_CALLS.pop(shift)
    try:
        model = stem.StemmedRegressor(units=2)
        model(features)
        text = module_source(model, inputs=features)
        found = round_trip_in_isolation(
            {"stemmed": (model, features)}, tmp_path, blocked=("kinds",)
        )
    finally:
        CONSTRUCTOR_CALLS[shift] = recorded
    assert "Shift.from_config(" in text
    assert found["stemmed"].get("error") is None, found
    assert found["stemmed"]["diff"] == 0.0
    with zipfile.ZipFile(tmp_path / "stemmed.snapshot") as opened:
        manifest = json.loads(opened.read("snapshot.json"))
    assert manifest["model"]["layers_from_config"] == ["stem/shift"]
