"""`snapshot model` on a factory function: functional, Sequential and subclassed models.

Each archive is loaded in ``python -I`` from an empty folder where the
factories' packages cannot be imported, and must give the outputs of the
model the factory made here, with the same weights.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from graphnets import factories

from cases import ASSETS
from conftest import randomize_weights, run_isolated
from snapshot.cli.commands import cli

_FACTORIES = ASSETS / "graphnets" / "factories.py"

_LOAD_AND_RUN = """
import json, sys
import numpy as np
import snapshot

jobs = json.loads(open(sys.argv[2]).read())
results = {}
for name, job in jobs.items():
    model = snapshot.load(job["archive"])
    outputs = model(np.asarray(job["inputs"], dtype="float32"), training=False)
    results[name] = {
        "class": type(model).__name__,
        "outputs": np.asarray(outputs).tolist(),
    }
print(json.dumps(results))
"""


def _snapshot_with_weights(
    tmp_path: Path, name: str, model: Any, arguments: list[str]
) -> Path:
    """``snapshot model`` with ``model``'s weights; the archive's path."""
    weights = tmp_path / f"{name}.weights.h5"
    model.save_weights(weights)
    archive = tmp_path / f"{name}.snapshot"
    result = CliRunner().invoke(
        cli,
        ["model", *arguments, "--weights", str(weights), "-o", str(archive)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return archive


def test_factories_round_trip_without_their_code(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    inputs = {
        "sequential": rng.normal(size=(3, 7)).astype("float32"),
        "stacked": rng.normal(size=(2, 4)).astype("float32"),
        "subclassed": rng.normal(size=(2, 3)).astype("float32"),
    }
    made = {
        # A Sequential graph from a factory argument.
        "sequential": (
            factories.make_sequential(features=7),
            [f"{_FACTORIES}:make_sequential", "--config", '{"features": 7}'],
        ),
        # A functional graph, built by its factory: no --input needed.
        "stacked": (factories.make_stacked(), [f"{_FACTORIES}:make_stacked"]),
    }
    # A subclassed model whose factory passes an argument the class does not keep.
    (tmp_path / "make_hides.py").write_text(
        "from statecases.models import HidesUnits\n\n\n"
        "def make_hides(width=2):\n    return HidesUnits(width)\n"
    )
    from statecases.models import HidesUnits

    made["subclassed"] = (
        HidesUnits(5),
        [
            f"{tmp_path / 'make_hides.py'}:make_hides",
            "--config",
            '{"width": 5}',
            "--input",
            "1,3",
        ],
    )
    expected, jobs = {}, {}
    for name, (model, arguments) in made.items():
        model(inputs[name][:1])
        randomize_weights(model, rng, low=0.5, high=1.5)
        archive = _snapshot_with_weights(tmp_path, name, model, arguments)
        expected[name] = np.asarray(model(inputs[name], training=False))
        jobs[name] = {"archive": str(archive), "inputs": inputs[name].tolist()}
        with zipfile.ZipFile(archive) as opened:
            manifest = json.loads(opened.read("snapshot.json"))
        # Verified by default, as `snapshot model` always is.
        assert manifest["verification"]["max_abs_diff"] == 0.0
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    found = run_isolated(
        _LOAD_AND_RUN.replace("sys.argv[2]", repr(str(tmp_path / "jobs.json"))),
        blocked=("graphnets", "statecases", "make_hides"),
        workdir=tmp_path / "empty",
    )
    assert {name: found[name]["class"] for name in made} == {
        "sequential": "Sequential",
        "stacked": "Functional",
        "subclassed": "HidesUnits",
    }
    for name in made:
        np.testing.assert_array_equal(
            np.asarray(found[name]["outputs"], dtype="float32"), expected[name]
        )


@pytest.mark.parametrize("command", ["model", "source"])
def test_a_factory_needs_no_config_when_its_arguments_have_defaults(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments = [command, f"{_FACTORIES}:make_stacked"]
    if command == "model":
        arguments += ["--no-verify", "-o", "out.snapshot"]
    result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    if command == "source":
        assert "def build_model():" in result.output
        # The graph is written from the model; the factory itself, with its
        # argument, is not copied.
        assert "def make_stacked(units" not in result.output
    else:
        shown = CliRunner().invoke(cli, ["inspect", "out.snapshot"])
        assert "  class          keras.Model (from its graph)" in shown.output


def test_what_a_factory_prints_stays_out_of_the_generated_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keras.io's factories call model.summary(): `snapshot source` must still
    print only the module, as valid Python."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "talkative.py").write_text(
        "import keras\n\n\n"
        "def build_model(width=4):\n"
        "    print('building')\n"
        "    inputs = keras.Input((3,))\n"
        "    model = keras.Model(inputs, keras.layers.Dense(width)(inputs), name='tiny')\n"
        "    model.summary()\n"
        "    return model\n"
    )
    result = CliRunner().invoke(
        cli, ["source", "talkative.py:build_model"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    compile(result.stdout, "generated.py", "exec")
    assert "building" in result.stderr and "building" not in result.stdout
    result = CliRunner().invoke(
        cli,
        ["model", "talkative.py:build_model", "--no-verify", "-o", "out.snapshot"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "wrote out.snapshot\n"


def test_weights_of_another_width_are_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    wider = factories.make_sequential(features=9)
    wider.save_weights(tmp_path / "wider.weights.h5")
    result = CliRunner().invoke(
        cli,
        [
            "model",
            f"{_FACTORIES}:make_sequential",
            "--weights",
            "wider.weights.h5",
            "-o",
            "out.snapshot",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    # Keras' warnings and the variable's values stay out of it.
    assert result.output.splitlines() == [
        "error: wider.weights.h5: cannot load into Sequential: the weights of 1 "
        "layer do not fit, e.g. tiny_sequential/hidden/kernel has shape (5, 6), "
        "the file holds (9, 6)"
    ]
    assert not (tmp_path / "out.snapshot").exists()


def test_decorated_and_partial_factories_are_factories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wrapped.py").write_text(
        "import functools\n\nimport keras\n\n\n"
        "def plain(width):\n"
        "    inputs = keras.Input((2,))\n"
        "    return keras.Model(inputs, keras.layers.Dense(width)(inputs))\n\n\n"
        "cached = functools.lru_cache(plain)\n"
        "narrow = functools.partial(plain, width=1)\n"
    )
    for target, config, units in [
        ("cached", '{"width": 3}', 3),
        ("narrow", "{}", 1),
    ]:
        result = CliRunner().invoke(
            cli, ["source", f"wrapped.py:{target}", "--config", config]
        )
        assert result.exit_code == 0, result.output
        assert f"units={units}" in result.stdout
    result = CliRunner().invoke(
        cli, ["source", "wrapped.py:narrow", "--config", '{"widht": 2}']
    )
    assert result.output.strip() == (
        "error: config names 'widht', which plain() does not take "
        "(did you mean 'width' for 'widht'?)"
    )
