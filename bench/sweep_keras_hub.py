"""Snapshot every keras-hub backbone that common tiny arguments can build.

Run: python bench/sweep_keras_hub.py [NAME ...]

Each `keras_hub.models.*Backbone` whose required constructor arguments all
have a tiny value below is built, called on generated inputs, given random
weights, saved with ``intern=["keras_hub"]`` (without verification), and
loaded in one fresh ``python -I`` interpreter where ``import keras_hub``
fails. Prints, per model, the largest output difference or the error, the count
of bit-exact models among all that were built (saves refused count as
failures), then the backbones it could not build (arguments it has no tiny
value for, or tiny sizes the model rejects).
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests")]

import keras_hub  # noqa: E402

import snapshot  # noqa: E402
from conftest import randomize_weights, round_trip_in_isolation  # noqa: E402
from snapshot.api import module_source  # noqa: E402

#: Values for required arguments, by name; a backbone needing others is skipped.
TINY: dict[str, Any] = {
    "vocabulary_size": 12,
    "vocab_size": 12,
    "num_layers": 1,
    "num_heads": 2,
    "num_attention_heads": 2,
    "num_query_heads": 2,
    "num_key_value_heads": 1,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "embedding_dim": 8,
    "head_dim": 4,
    "max_sequence_length": 8,
    "num_experts": 2,
    "top_k": 1,
    "num_experts_per_tok": 1,
    "image_shape": (32, 32, 3),
    "patch_size": 4,
}


def _tiny_arguments(cls: type) -> dict[str, Any] | str:
    """Arguments for ``cls``, or the names of required ones without a tiny value."""
    arguments, missing = {}, []
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        if parameter.default is parameter.empty:
            if parameter.name in TINY:
                arguments[parameter.name] = TINY[parameter.name]
            else:
                missing.append(parameter.name)
    return arguments if not missing else "needs " + ", ".join(missing)


def _inputs(model: Any, rng: np.random.Generator) -> Any:
    inputs = {}
    for spec in model.inputs:
        shape = [8 if size is None else size for size in spec.shape]
        shape[0] = 1
        if "int" in spec.dtype:
            inputs[spec.name] = np.ones(shape, spec.dtype)
        else:
            inputs[spec.name] = rng.normal(size=shape).astype(spec.dtype)
    return next(iter(inputs.values())) if len(inputs) == 1 else inputs


def main() -> None:
    rng = np.random.default_rng(0)
    wanted = set(sys.argv[1:])
    names = sorted(
        name
        for name in dir(keras_hub.models)
        if name.endswith("Backbone") and name != "Backbone"
    )
    cases: dict[str, tuple[Any, Any]] = {}
    not_built: dict[str, str] = {}
    refused: dict[str, str] = {}
    for name in names:
        if wanted and name not in wanted:
            continue
        arguments = _tiny_arguments(getattr(keras_hub.models, name))
        if isinstance(arguments, str):
            not_built[name] = arguments
            continue
        try:
            model = getattr(keras_hub.models, name)(**arguments)
            batch = _inputs(model, rng)
            model(batch)
        except Exception as error:  # the tiny sizes do not suit every model
            not_built[name] = (
                f"{type(error).__name__}: {' '.join(str(error).split())[:120]}"
            )
            continue
        randomize_weights(model, rng, low=0.01, high=0.05)
        try:  # generation is cached: saving it again below costs little
            module_source(model, inputs=batch, intern=["keras_hub"])
        except snapshot.SnapshotError as error:
            refused[name] = " ".join(str(error).split())[:300]
            print(f"{name:<28} SNAPSHOT ERROR {refused[name]}")
            continue
        cases[name] = (model, batch)
    with tempfile.TemporaryDirectory() as folder:
        found = round_trip_in_isolation(
            cases, Path(folder), blocked=("keras_hub",), intern=["keras_hub"]
        )
    exact = 0
    for name, result in sorted(found.items()):
        if "error" in result:
            print(f"{name:<28} ERROR {result['error'][:200]}")
            continue
        exact += result["diff"] == 0.0
        print(f"{name:<28} max abs difference {result['diff']:.3g}")
    # Every backbone built counts: a refused save is a failure, not a skip.
    built = len(found) + len(refused)
    print(
        f"\n{exact} of {built} built backbones bit-exact without keras_hub "
        f"({len(refused)} refused at save, {len(found) - exact} loaded but not "
        f"bit-exact or failed; keras-snapshot {snapshot.__version__})"
    )
    print(f"{len(not_built)} not built:")
    for name, reason in sorted(not_built.items()):
        print(f"  {name:<28} {reason[:150]}")


if __name__ == "__main__":
    main()
