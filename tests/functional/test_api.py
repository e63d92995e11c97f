"""snapshot.save / snapshot.load in a training script's process: state capture and errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

import snapshot
from conftest import run_isolated
from snapshot.capture import record
from statecases.models import HidesUnits, StoresUnits, TakesActivation

BATCH = np.arange(6, dtype="float32").reshape(2, 3)


def _forget_recorded_call(model: keras.Model) -> None:
    # As if the model had been created before `import snapshot`.
    del record.CONSTRUCTOR_CALLS[model]


def test_recorded_call_gives_the_real_arguments_not_keras_defaults(
    tmp_path: Path,
) -> None:
    model = HidesUnits(width=5)
    model(BATCH)
    path = snapshot.save(model, tmp_path / "hides.snapshot", verify=False)
    loaded = snapshot.load(path)
    np.testing.assert_array_equal(np.asarray(loaded(BATCH)), np.asarray(model(BATCH)))
    manifest = json.loads(
        (
            snapshot.save(model, tmp_path / "d", layout="dir", verify=False)
            / "snapshot.json"
        ).read_text()
    )
    assert manifest["model"]["constructor_args_from"] == "recorded call"


def test_attributes_recover_arguments_when_no_call_was_recorded(tmp_path: Path) -> None:
    model = StoresUnits(4)
    model(BATCH)
    _forget_recorded_call(model)
    folder = snapshot.save(model, tmp_path / "stores", layout="dir", verify=False)
    module_text = (folder / "stores_units_snapshot.py").read_text()
    assert "model = StoresUnits(units=4)" in module_text


def test_unrecoverable_required_argument_is_a_clear_error(tmp_path: Path) -> None:
    model = HidesUnits(3)
    model(BATCH)
    _forget_recorded_call(model)
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", verify=False)
    assert str(raised.value) == (
        "cannot recover required argument 'width' of HidesUnits (its constructor call "
        "was not recorded, and no get_config() or attribute holds it); "
        "pass config={'width': ...}"
    )
    assert not (tmp_path / "x.snapshot").exists()


def test_wrong_config_is_caught_by_rebuilding(tmp_path: Path) -> None:
    model = HidesUnits(3)
    model(BATCH)
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", config={"width": 7}, verify=False)
    kernel = model.weights[0].path
    assert str(raised.value) == (
        "HidesUnits rebuilt from its arguments (taken from config) differs from the live "
        f"model: variable {kernel} is (3, 3) float32 in the live model, (3, 7) float32 "
        "rebuilt; the config= given does not describe this model; check its values"
    )


def test_argument_that_cannot_be_written_as_code_is_refused(tmp_path: Path) -> None:
    double = lambda x: x * 2  # noqa: E731
    model = TakesActivation(double)
    model(BATCH)
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", verify=False)
    message = str(raised.value)
    assert message.startswith(
        "constructor argument 'activation' uses the function "
        "test_argument_that_cannot_be_written_as_code_is_refused.<locals>.<lambda> ("
    )
    assert message.endswith(
        f"test_api.py:{double.__code__.co_firstlineno}), which is not defined at the "
        "top level of a module; define "
        "it with def or class at the top level of a .py module"
    )
    assert list(tmp_path.iterdir()) == []


def test_keras_function_argument_is_imported_by_its_public_name(tmp_path: Path) -> None:
    model = TakesActivation(keras.activations.gelu)
    model(BATCH)
    folder = snapshot.save(model, tmp_path / "gelu", layout="dir", verify=False)
    text = (folder / "takes_activation_snapshot.py").read_text()
    # Keras' public API is spelled through ``import keras``, as its documentation does.
    assert "from keras.activations" not in text
    assert "model = TakesActivation(activation=keras.activations.gelu)" in text


def test_model_never_called_needs_inputs(tmp_path: Path) -> None:
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(StoresUnits(2), tmp_path / "x.snapshot", verify=False)
    assert str(raised.value) == (
        "StoresUnits has not been called on data yet, so its input shapes are unknown; "
        "pass inputs= (an example batch) to snapshot.save"
    )
    path = snapshot.save(
        StoresUnits(2), tmp_path / "x.snapshot", inputs=BATCH, verify=False
    )
    assert snapshot.load(path)(BATCH).shape == (2, 2)


def test_class_defined_in_a_function_is_refused(tmp_path: Path) -> None:
    class Local(keras.Model):
        def call(self, x):
            return x

    model = Local()
    model(BATCH)
    with pytest.raises(snapshot.SourceNotFoundError) as raised:
        snapshot.save(model, tmp_path / "x.snapshot", verify=False)
    assert "is defined inside a function or class; move it to the top level" in str(
        raised.value
    )


def test_not_a_model_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(snapshot.NotAModelError):
        snapshot.save(keras.layers.Dense(2), tmp_path / "x.snapshot", verify=False)  # type: ignore[arg-type]
    model = StoresUnits(2)
    model(BATCH)
    with pytest.raises(snapshot.ArchiveError) as raised:
        snapshot.save(model, tmp_path / "missing" / "x.snapshot", verify=False)
    assert str(raised.value) == (
        f"{tmp_path / 'missing' / 'x.snapshot'}: folder {tmp_path / 'missing'} does not exist"
    )
    assert list(tmp_path.iterdir()) == []


def test_changed_member_is_refused(tmp_path: Path) -> None:
    model = StoresUnits(2)
    model(BATCH)
    folder = snapshot.save(model, tmp_path / "snap", layout="dir", verify=False)
    module = folder / "stores_units_snapshot.py"
    module.write_text(module.read_text() + "\nimport os\n")
    with pytest.raises(snapshot.ArchiveError) as raised:
        snapshot.load(folder)
    assert str(raised.value) == (
        f"{folder}: member stores_units_snapshot.py was changed after the archive was written"
    )


def test_snapshot_loads_beside_the_original_code_twice(tmp_path: Path) -> None:
    model = StoresUnits(3)
    model(BATCH)
    path = snapshot.save(model, tmp_path / "twice.snapshot", verify=False)
    first, second = snapshot.load(path), snapshot.load(path)
    expected = np.asarray(model(BATCH))
    np.testing.assert_array_equal(np.asarray(first(BATCH)), expected)
    np.testing.assert_array_equal(np.asarray(second(BATCH)), expected)
    assert type(first) is type(second) and type(first) is not StoresUnits


def test_generated_module_and_original_share_a_process(tmp_path: Path) -> None:
    from patterns import PatternNet
    from patterns.layers.top import Top

    model = PatternNet(units=3)
    model(BATCH)
    loaded = snapshot.load(
        snapshot.save(model, tmp_path / "net.snapshot", verify=False)
    )
    np.testing.assert_array_equal(np.asarray(loaded(BATCH)), np.asarray(model(BATCH)))
    # Each keeps its own Keras registration: the snapshot's is renamed.
    assert keras.saving.get_registered_object("patterns>Top") is Top
    snapshot_top = keras.saving.get_registered_object("patterns.snapshot>Top")
    assert snapshot_top is type(loaded.top) and snapshot_top is not Top
    rebuilt = keras.layers.deserialize(keras.layers.serialize(model.top))
    assert type(rebuilt) is Top


def test_intern_vendors_installed_package_code(tmp_path: Path) -> None:
    from vendored.model import VendoredModel

    model = VendoredModel(units=3)
    model(BATCH)
    folder = snapshot.save(
        model,
        tmp_path / "vendored",
        intern=["keras.src.layers.core*"],
        layout="dir",
        verify=False,
    )
    text = (folder / "vendored_model_snapshot.py").read_text()
    assert "\nclass Dense(Layer):" in text and "\nclass EinsumDense(Layer):" in text
    assert "keras.src.layers.core" not in text.split('"""', 2)[2].split("# Sources")[0]
    loaded = snapshot.load(folder)
    assert type(loaded.dense).__module__ != "keras.src.layers.core.dense"
    np.testing.assert_array_equal(np.asarray(loaded(BATCH)), np.asarray(model(BATCH)))

    kept = snapshot.save(model, tmp_path / "kept", layout="dir", verify=False)
    kept_text = (kept / "vendored_model_snapshot.py").read_text()
    assert "from keras.src.layers.core.dense import Dense" in kept_text
    assert "class Dense" not in kept_text


def test_saving_again_after_the_code_changed_regenerates_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "src" / "editable_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    source = package / "net.py"
    template = (
        "import keras\n\nSCALE = {scale}\n\n\nclass Net(keras.Model):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.dense = keras.layers.Dense(2)\n\n"
        "    def call(self, x):\n        return self.dense(x) * SCALE\n"
    )
    source.write_text(template.format(scale=1.0))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    from editable_pkg.net import Net

    model = Net()
    model(BATCH)
    first = snapshot.save(model, tmp_path / "first", layout="dir", verify=False)
    assert "SCALE = 1.0" in (first / "net_snapshot.py").read_text()
    source.write_text(template.format(scale=2.0))
    os.utime(source, ns=(source.stat().st_mtime_ns + 10**9,) * 2)
    second = snapshot.save(model, tmp_path / "second", layout="dir", verify=False)
    assert "SCALE = 2.0" in (second / "net_snapshot.py").read_text()


def test_left_out_method_and_rewrite_in_one_class(tmp_path: Path) -> None:
    from statecases.partly import Tagger

    model = Tagger()
    model(BATCH)
    folder = snapshot.save(model, tmp_path / "tagger", layout="dir", verify=False)
    text = (folder / "tagger_snapshot.py").read_text()
    assert (
        '@keras.saving.register_keras_serializable(package="partly.snapshot")' in text
    )
    assert "    def export_somewhere(*args, **kwargs):" in text
    assert "Head.export_somewhere is not part of this snapshot" in text
    # The left-out method's dependency stays out.
    assert "class StoresUnits" not in text
    loaded = snapshot.load(folder)
    np.testing.assert_array_equal(np.asarray(loaded(BATCH)), np.asarray(model(BATCH)))


def test_a_loaded_snapshot_saves_again(tmp_path: Path) -> None:
    # Load, train on, save: the loaded model's code is the approved module,
    # whose temporary file is gone; its loader still serves the source.
    model = StoresUnits(3)
    model(BATCH)
    loaded = snapshot.load(snapshot.save(model, tmp_path / "first.snapshot"))
    loaded.layers[0].kernel.assign(loaded.layers[0].kernel * 2.0)
    again = snapshot.save(loaded, tmp_path / "again.snapshot")  # verified
    found = run_isolated(
        f"""
        import json, numpy as np, snapshot
        model = snapshot.load({str(again)!r})
        batch = np.arange(6, dtype="float32").reshape(2, 3)
        print(json.dumps(np.asarray(model(batch)).tolist()))
        """,
        blocked=("statecases",),
        workdir=tmp_path / "empty",
    )
    np.testing.assert_array_equal(np.asarray(found, "float32"), loaded(BATCH))
