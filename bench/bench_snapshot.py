"""Benchmark keras-snapshot against Keras' own `.keras` format, like for like.

Run: python bench/bench_snapshot.py [--repeat N] [--cold] [--keras-hub]
                                    [--real-sizes] [--backends jax,torch] [--only NAME]

Each model is measured in a fresh process of its own (so "first" is a first
save for every row), and each column is the median of N runs unless marked:
  first     the first snapshot.save of the model in a fresh process, without
            verification, with the on-disk black cache off: one run, by nature
  save      snapshot.save without verification, saving again as a training
            script does, vs model.save("x.keras")
  +verify   snapshot.save with its fresh-interpreter verification
  load      snapshot.load, the generated module executed anew each time (not
            reused from sys.modules), vs keras.saving.load_model("x.keras")
  analysis  collect() with its caches cleared before each run (module
            indexes, module classification) vs reading and ast.parse-ing the
            same files (those that gave code and those it followed imports
            through), also from disk each run
  archive   bytes of the archive, of the weights alone and of the .keras file
  defs      definitions extracted; lines: lines of the files read
  cold      (--cold) a fresh process importing the generated module and calling
            load_model() vs one importing the original code and loading "x.keras"
            (medians of min(N, 3))
With --real-sizes, also keras-hub architectures at published sizes (random
weights): BERT-tiny (4.4M parameters), ResNet-18 (11.2M), BERT-base (109M).
With --cold and --backends, a second table: the same cold loads under other
Keras backends, and the floor, a process that only imports Keras there.
NaN: Keras cannot save or reload that model as .keras (reasons printed below).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Black's results stay cached within the process only: "first" is a first save.
os.environ["KERAS_SNAPSHOT_CACHE"] = "0"
REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [
    str(REPO / "tests"),
    str(REPO / "tests" / "assets"),
    str(REPO / "examples"),
]

import keras  # noqa: E402
from timing import median_seconds  # noqa: E402

import snapshot  # noqa: E402
from cases import CASES, Case  # noqa: E402
from snapshot.analysis import modules, parse  # noqa: E402
from snapshot.analysis.collect import collect  # noqa: E402
from snapshot.analysis.locate import locate_class  # noqa: E402
from snapshot.config import SnapshotConfig  # noqa: E402

_NAN = float("nan")


def cold_seconds(
    code: str, cwd: Path, repeat: int, backend: str | None = None
) -> float:
    environment = dict(os.environ)
    if backend is not None:
        environment["KERAS_BACKEND"] = backend

    def run() -> None:
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd,
            env=environment,
            check=True,
            capture_output=True,
        )

    return median_seconds(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--cold", action="store_true", help="also time cold-process loads"
    )
    parser.add_argument(
        "--keras-hub",
        action="store_true",
        help="also the keras-hub backbones (interned)",
    )
    parser.add_argument(
        "--real-sizes",
        action="store_true",
        help="also keras-hub architectures at published sizes",
    )
    parser.add_argument(
        "--backends",
        default="",
        help="with --cold: comma-separated other Keras backends to load under",
    )
    parser.add_argument(
        "--only", default="", help="measure only models whose name contains this"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.backends = [b for b in args.backends.split(",") if b]
    cases = list(CASES) + (_keras_hub_cases() if args.keras_hub else [])
    cases += _real_size_cases() if args.real_sizes else []
    if args.measure:
        (case,) = [case for case in cases if case.name == args.measure]
        print(json.dumps(_measure(case, args)))
        return
    header = (
        f"{'model':<34}{'first':>7}{'save':>7}{'+verify':>8}{'.keras':>7}{'ratio':>6}"
        f"{'load':>7}{'.keras':>7}{'ratio':>6}{'analysis':>10}{'ast':>8}{'ratio':>6}"
        f"{'archive':>10}{'weights':>10}{'.keras':>10}{'defs':>5}{'lines':>7}"
    )
    if args.cold:
        header += f"{'cold':>7}{'.keras':>7}{'ratio':>6}"
    print(header, flush=True)
    failures: list[str] = []
    by_backend: list[str] = []
    for case in [case for case in cases if args.only in case.name]:
        found = _measure_in_fresh_process(case, sys.argv[1:])
        print(_row(case.name, found, cold=args.cold), flush=True)
        failures += found["failures"]
        by_backend += found["by_backend"]
    for failure in failures:
        print(" ".join(failure.split())[:160])
    if by_backend:
        print(
            f"\n{'model':<34}{'backend':>11}{'cold':>7}{'.keras':>7}{'ratio':>6}"
            f"{'floor':>7}{'ratio above floor':>19}"
        )
        print("\n".join(by_backend))


def _measure_in_fresh_process(case: Case, argv: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, *argv, "--measure", case.name],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{case.name}: measuring failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def _row(name: str, found: dict[str, Any], *, cold: bool) -> str:
    v = found
    row = (
        f"{name:<34}{v['first']:>7.3f}{v['save']:>7.3f}{v['+verify']:>8.2f}"
        f"{v['save_keras']:>7.3f}{v['save'] / v['save_keras']:>6.2f}"
        f"{v['load']:>7.3f}{v['load_keras']:>7.3f}{v['load'] / v['load_keras']:>6.2f}"
        f"{v['analysis'] * 1000:>8.1f}ms{v['parse'] * 1000:>6.1f}ms"
        f"{v['analysis'] / v['parse']:>6.1f}"
        f"{v['archive']:>10}{v['weights']:>10}{v['keras_size']:>10}"
        f"{v['defs']:>5}{v['lines']:>7}"
    )
    if cold:
        row += f"{v['cold']:>7.2f}{v['cold_keras']:>7.2f}{v['cold'] / v['cold_keras']:>6.2f}"
    return row


def _measure(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Every column for ``case``, in this (fresh) process."""
    failures: list[str] = []
    by_backend: list[str] = []
    model, batch = case.make()
    inputs = None if case.name.startswith("seed_") else batch
    found: dict[str, Any] = {"failures": failures, "by_backend": by_backend}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        archive = work / "model.snapshot"
        keras_file = work / "model.keras"

        def save_snapshot(verify: bool) -> None:
            snapshot.save(
                model,
                archive,
                inputs=inputs,
                overwrite=True,
                verify=verify,
                intern=case.intern,
            )

        found["first"] = median_seconds(partial(save_snapshot, False), 1)
        found["save"] = median_seconds(partial(save_snapshot, False), args.repeat)
        found["+verify"] = median_seconds(
            partial(save_snapshot, True), min(args.repeat, 3)
        )
        found["load"] = median_seconds(lambda: _load_anew(archive), args.repeat)
        custom = {type(model).__name__: type(model)}
        found["save_keras"] = found["load_keras"] = _NAN
        try:
            found["save_keras"] = median_seconds(
                lambda: model.save(keras_file), args.repeat
            )
            found["load_keras"] = median_seconds(
                lambda: keras.saving.load_model(keras_file, custom_objects=custom),
                args.repeat,
            )
        except Exception as error:
            failures.append(f"{case.name}: .keras {type(error).__name__}: {error}")

        target = locate_class(type(model))
        config = SnapshotConfig(intern=case.intern)
        found["analysis"] = median_seconds(
            lambda: _collect_cold(target, config), args.repeat
        )
        closure = collect(target, config=config)
        paths = [index.source.path for index in closure.modules_read]
        found["parse"] = median_seconds(
            lambda: [ast.parse(path.read_bytes()) for path in paths], args.repeat
        )
        found["lines"] = sum(index.text.count("\n") for index in closure.modules_read)
        found["defs"] = len(closure.statements)
        with zipfile.ZipFile(archive) as opened:
            found["weights"] = opened.getinfo("model.weights.h5").file_size
        found["archive"] = archive.stat().st_size
        found["keras_size"] = _size(keras_file)
        if args.cold:
            repeat = min(args.repeat, 3)
            found["cold"], found["cold_keras"] = _cold(
                model, archive, keras_file, work, repeat=repeat
            )
            # Only where .keras loads at all: the table compares the two.
            loads = found["cold_keras"] == found["cold_keras"]
            for backend in args.backends if loads else ():
                cold, cold_keras = _cold(
                    model, archive, keras_file, work, repeat=repeat, backend=backend
                )
                floor = _floor_seconds(backend, repeat)
                by_backend.append(
                    f"{case.name:<34}{backend:>11}{cold:>7.2f}{cold_keras:>7.2f}"
                    f"{cold / cold_keras:>6.2f}{floor:>7.2f}"
                    f"{(cold - floor) / (cold_keras - floor):>19.2f}"
                )
    return found


def _load_anew(archive: Path) -> None:
    """snapshot.load, with the generated module executed again, as .keras deserializes."""
    for name in [name for name in sys.modules if name.startswith("snapshot_")]:
        del sys.modules[name]
    snapshot.load(archive)


def _collect_cold(target: Any, config: SnapshotConfig) -> None:
    parse._read_module.cache_clear()
    modules.classify.cache_clear()
    collect(target, config=config)


def _cold(
    model: keras.Model,
    archive: Path,
    keras_file: Path,
    work: Path,
    *,
    repeat: int,
    backend: str | None = None,
) -> tuple[float, float]:
    """Seconds of a fresh process loading the snapshot, and one loading .keras."""
    unpacked = work / f"unpacked-{backend}"
    if not unpacked.exists():
        unpacked.mkdir()
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(unpacked)
    module = next(p.stem for p in unpacked.glob("*.py"))
    try:
        cold = cold_seconds(
            f"import {module}; {module}.load_model()", unpacked, repeat, backend=backend
        )
    except subprocess.CalledProcessError:
        # A model whose own code calls TensorFlow loads on that backend only.
        cold = _NAN
    original = type(model).__module__
    paths = [str(REPO / "examples"), str(REPO / "tests" / "assets")]
    code = (
        f"import sys; sys.path[:0] = {paths!r}; import keras, {original}; "
        f"keras.saving.load_model({str(keras_file)!r}, custom_objects="
        f"{{{type(model).__name__!r}: {original}.{type(model).__name__}}})"
    )
    try:
        cold_keras = cold_seconds(code, work, repeat, backend=backend)
    except subprocess.CalledProcessError:
        cold_keras = _NAN
    return cold, cold_keras


_FLOORS: dict[str, float] = {}


def _floor_seconds(backend: str, repeat: int) -> float:
    """A fresh process that imports Keras on ``backend`` and nothing else."""
    if backend not in _FLOORS:
        _FLOORS[backend] = cold_seconds("import keras", REPO, repeat, backend=backend)
    return _FLOORS[backend]


def _keras_hub_cases() -> list[Case]:
    """The keras-hub models of tests/functional/test_keras_hub.py, interned."""
    sys.path.insert(0, str(REPO / "tests" / "functional"))
    import test_keras_hub

    return [
        Case(
            f"keras_hub_{name}",
            lambda pair=pair: pair,  # type: ignore[misc]
            ("keras_hub",),
            intern=("keras_hub",),
        )
        for name, pair in test_keras_hub._models().items()
    ]


def _real_size_cases() -> list[Case]:
    """keras-hub architectures at the sizes of published presets, random weights."""
    import keras_hub
    import numpy as np

    def tokens() -> dict[str, np.ndarray]:
        return {
            "token_ids": np.ones((1, 16), "int32"),
            "segment_ids": np.zeros((1, 16), "int32"),
            "padding_mask": np.ones((1, 16), "int32"),
        }

    def bert(layers: int, heads: int, hidden: int) -> tuple[keras.Model, Any]:
        model = keras_hub.models.BertBackbone(
            vocabulary_size=30522,
            num_layers=layers,
            num_heads=heads,
            hidden_dim=hidden,
            intermediate_dim=4 * hidden,
            max_sequence_length=512,
        )
        model(tokens())
        return model, tokens()

    def resnet18() -> tuple[keras.Model, Any]:
        model = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 128, 256, 512],
            stackwise_num_blocks=[2, 2, 2, 2],
            stackwise_num_strides=[1, 2, 2, 2],
            block_type="basic_block",
            use_pre_activation=False,
            image_shape=(None, None, 3),
        )
        image = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
        model(image)
        return model, image

    hub = ("keras_hub",)
    return [
        Case("size_bert_tiny", lambda: bert(2, 2, 128), hub, intern=hub),
        Case("size_resnet18", resnet18, hub, intern=hub),
        Case("size_bert_base", lambda: bert(12, 12, 768), hub, intern=hub),
    ]


def _size(path: Path) -> str:
    return str(path.stat().st_size) if path.exists() else "-"


if __name__ == "__main__":
    main()
