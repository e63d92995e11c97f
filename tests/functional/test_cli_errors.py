"""Bad input to the command line: one line naming the culprit, an exit code, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cases import ASSETS, EXAMPLES
from snapshot.cli.commands import cli


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _invoke(args: list[str], cwd: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert not (cwd / "out.snapshot").exists(), "nothing may be written on error"
    assert sorted(p.name for p in cwd.iterdir() if p.name.startswith(".snapshot")) == []
    return result.exit_code, result.output


@pytest.fixture
def weights_of_other_model(tmp_path: Path) -> Path:
    import seed_pickle

    model = seed_pickle.MyModel()
    model(seed_pickle.np.zeros((1, 3), "float32"))
    path = tmp_path / "other.weights.h5"
    model.save_weights(path)
    return path


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    path = tmp_path / "broken_model.py"
    path.write_text("import keras\n\nclass Broken(keras.Model)\n    pass\n")
    return path


_SEED = str(EXAMPLES / "seed_custom_layer.py")
_BAD_INPUTS = {
    "module not found": (
        ["no_such_pkg.models:Net"],
        "error: no module named 'no_such_pkg.models'",
    ),
    "class not found": (
        [f"{_SEED}:Nope"],
        f"error: {_SEED}: no class or function 'Nope' in seed_custom_layer",
    ),
    "not a model": (
        [f"{_SEED}:MyCustomLayer"],
        f"error: {_SEED}:MyCustomLayer: MyCustomLayer is neither a subclass of "
        "keras.Model nor a function",
    ),
    "malformed target": (
        ["seed_custom_layer"],
        "error: target 'seed_custom_layer' is not of the form package.module:Name "
        "or path/to/file.py:Name (a model class or a function returning a model)",
    ),
    "missing weights file": (
        [f"{_SEED}:MyModel", "--weights", "missing.weights.h5"],
        "error: missing.weights.h5: no such weights file",
    ),
    "unknown config argument": (
        [f"{_SEED}:MyModel", "--config", '{"units": 3}'],
        "error: config names 'units', which MyModel.__init__ does not take",
    ),
    "config is not JSON": (
        [f"{_SEED}:MyModel", "--config", "{units: 3}"],
        "error: --config:1: invalid JSON: Expecting property name enclosed in double quotes",
    ),
    "bad input spec": (
        [f"{_SEED}:MyModel", "--input", "1,x"],
        "error: --input '1,x': expected [NAME=]SHAPE[:DTYPE], e.g. 1,3 or tokens=2,5:int32",
    ),
}


@pytest.mark.parametrize("case", sorted(_BAD_INPUTS))
def test_bad_input_gives_one_line_and_exit_1(case: str, tmp_path: Path) -> None:
    args, expected = _BAD_INPUTS[case]
    if "--input" not in args:
        args = [*args, "--input", "1,3"]
    code, output = _invoke(["model", *args, "-o", "out.snapshot"], tmp_path)
    assert (code, output.strip()) == (1, expected)


def test_missing_inputs_are_asked_for(tmp_path: Path) -> None:
    code, output = _invoke(
        ["model", f"{_SEED}:MyModel", "-o", "out.snapshot"], tmp_path
    )
    assert code == 1
    assert output.strip() == (
        "error: the model needs example inputs to be built: give --input SHAPE[:DTYPE] "
        "(e.g. --input 1,3) or --inputs FILE.npz"
    )


def test_weights_of_another_model_are_refused(
    tmp_path: Path, weights_of_other_model: Path
) -> None:
    args = [
        "model",
        f"{_SEED}:MyModel",
        "--input",
        "1,3",
        "--weights",
        str(weights_of_other_model),
    ]
    code, output = _invoke([*args, "-o", "out.snapshot"], tmp_path)
    assert code == 1
    assert output.startswith(
        f"error: {weights_of_other_model}: cannot load into MyModel: "
    )
    assert len(output.strip().splitlines()) == 1


def test_syntax_error_names_file_and_line(tmp_path: Path, broken_file: Path) -> None:
    code, output = _invoke(
        ["model", f"{broken_file}:Broken", "--input", "1,3", "-o", "out.snapshot"],
        tmp_path,
    )
    assert (code, output.strip()) == (
        1,
        f"error: {broken_file}:3: syntax error: expected ':'",
    )


def test_existing_output_is_not_replaced_without_force(tmp_path: Path) -> None:
    existing = tmp_path / "taken.snapshot"
    existing.write_bytes(b"keep me")
    args = ["model", f"{_SEED}:MyModel", "--input", "1,3", "-o", str(existing)]
    code, output = _invoke(args, tmp_path)
    assert (code, output.strip()) == (
        1,
        f"error: {existing}: already exists; pass overwrite=True (--force) to replace it",
    )
    assert existing.read_bytes() == b"keep me"


def test_unextractable_code_lists_every_problem_grouped_by_reason(
    tmp_path: Path,
) -> None:
    model_py = ASSETS / "badzoo" / "model.py"
    starred_py = ASSETS / "badzoo" / "starred.py"
    code, output = _invoke(
        ["model", "badzoo.model:Broken", "--input", "1,3", "-o", "out.snapshot"],
        tmp_path,
    )
    assert code == 3
    assert output == (
        "error: cannot extract the model's code:\n"
        "* Name is bound nowhere; define or import it.\n"
        f"    {model_py}:20  undefined_thing in badzoo.model\n"
        "* Star import from a first-party module; import the names explicitly.\n"
        f"    {starred_py}:5  helper may come from 'from badzoo.helpers import *'\n"
        "* Dynamic import of code the analyzer cannot follow; use a plain import statement.\n"
        f"    {model_py}:18  importlib.import_module(...)\n"
        "* globals() lookup cannot be followed; reference the names directly.\n"
        f"    {model_py}:17  globals(...)\n"
        "* exec/eval of code the analyzer cannot see; write the code out.\n"
        f"    {model_py}:19  eval(...)\n"
    )


_RAISING = ASSETS / "faulty" / "raising.py"


def test_the_first_wrong_option_is_named_first(tmp_path: Path) -> None:
    # An unknown target without --input: the target is wrong first.
    code, output = _invoke(["model", "no_such_pkg:Net", "-o", "out.snapshot"], tmp_path)
    assert (code, output.strip()) == (1, "error: no module named 'no_such_pkg'")
    # Target and config fine, weights missing, no inputs: the weights come first.
    args = ["model", f"{_SEED}:MyModel", "--weights", "nope.weights.h5"]
    code, output = _invoke([*args, "-o", "out.snapshot"], tmp_path)
    assert output.strip() == "error: nope.weights.h5: no such weights file"
    # The output is checked before the model's code is imported: a taken
    # output is named even beside an unknown target.
    existing = tmp_path / "taken.snapshot"
    existing.write_bytes(b"keep me")
    for target in ("no_such_pkg:Net", "faulty.raising:RaisesInInit"):
        args = ["model", target, "--input", "1,3", "-o", str(existing)]
        code, output = _invoke(args, tmp_path)
        assert output.strip().startswith(f"error: {existing}: already exists")
        assert existing.read_bytes() == b"keep me"


def test_an_exception_in_the_model_code_names_the_users_line(tmp_path: Path) -> None:
    args = ["model", "faulty.raising:RaisesInInit", "--input", "1,3"]
    code, output = _invoke([*args, "-o", "out.snapshot"], tmp_path)
    assert (code, output.strip()) == (
        1,
        "error: faulty.raising:RaisesInInit() failed: "
        f"{_RAISING}:6: ValueError: units must be even, not 3",
    )
    result = CliRunner().invoke(cli, ["--debug", *args, "-o", "out.snapshot"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert f'File "{_RAISING}", line 12, in __init__' in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: faulty.raising")


def test_a_module_that_crashes_on_import_is_not_called_missing(tmp_path: Path) -> None:
    crashing = ASSETS / "faulty" / "crashes_on_import.py"
    args = ["model", "faulty.crashes_on_import:Net", "--input", "1,3"]
    code, output = _invoke([*args, "-o", "out.snapshot"], tmp_path)
    assert (code, output.strip()) == (
        1,
        "error: importing faulty.crashes_on_import failed: "
        f"{crashing}:3: ZeroDivisionError: division by zero",
    )


def test_a_model_instance_is_told_apart_from_a_class(tmp_path: Path) -> None:
    args = ["model", "faulty.raising:MODEL", "--input", "1,3"]
    code, output = _invoke([*args, "-o", "out.snapshot"], tmp_path)
    assert (code, output.strip()) == (
        1,
        "error: faulty.raising:MODEL: MODEL is a model instance, not a class; save it "
        "from Python with snapshot.save(MODEL, path), or name its class (WithoutCall) "
        "and give --config",
    )


def test_keras_colour_codes_never_reach_the_message(tmp_path: Path) -> None:
    import numpy as np

    import snapshot
    from statecases.rich import PairModel

    # click drops colour codes on the way to a pipe; the API's message is
    # what logs and notebooks show, so it is checked there. Keras prints the
    # error raised in call() in bold.
    with pytest.raises(snapshot.ModelStateError) as raised:
        snapshot.save(
            PairModel(), tmp_path / "out.snapshot", inputs=np.ones((1, 3), "float32")
        )
    message = str(raised.value)
    assert "\x1b[" not in message
    assert (
        "Exception encountered when calling PairModel.call(). not enough values "
        "to unpack (expected 2, got 1)"
    ) in message
    assert "\n" not in message
