"""Where a cold JAX load of a generated module spends its time, stage by stage.

Run: python bench/profile_jax_load.py [--model size_resnet18|size_bert_tiny] [--repeat N]

The model (a keras-hub architecture at a preset's size, random weights) is
saved with TensorFlow, unverified, as a folder; then fresh processes with
``KERAS_BACKEND=jax`` import Keras, import the generated module, call its
``build_model()`` and ``model.load_weights``, each timed. One more process
runs ``build_model()`` under cProfile and reports the seconds XLA spent
compiling (``backend_compile_and_load``), which is what running the weight
initialisers costs there. Medians of N processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_SAVE = """
import sys
sys.path[:0] = [{bench!r}, {tests!r}, {assets!r}]
import snapshot, bench_snapshot
cases = {{case.name: case for case in bench_snapshot._real_size_cases()}}
model, inputs = cases[{model!r}].make()
snapshot.save(model, {out!r}, inputs=inputs, intern=["keras_hub"], verify=False,
              layout="dir")
"""

_TIMED = """
import json, time
start = time.perf_counter()
import keras
imported = time.perf_counter()
import {module} as generated
module = time.perf_counter()
model = generated.build_model()
built = time.perf_counter()
model.load_weights(generated.WEIGHTS_FILE)
loaded = time.perf_counter()
print(json.dumps({{"import keras": imported - start, "import module": module - imported,
                  "build_model": built - module, "load_weights": loaded - built}}))
"""

_PROFILED = """
import cProfile, json, pstats
import keras
import {module} as generated
profile = cProfile.Profile()
profile.enable()
generated.build_model()
profile.disable()
stats = pstats.Stats(profile).stats
compile_seconds = max(
    (cumulative for (file, _, name), (_, _, _, cumulative, _) in stats.items()
     if name == "backend_compile_and_load"), default=0.0)
total = max(cumulative for (_, _, _, cumulative, _) in stats.values())
print(json.dumps({{"build_model (profiled)": total, "of which XLA compiling": compile_seconds}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", choices=["size_resnet18", "size_bert_tiny"], default="size_resnet18"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "archive"
        script = _SAVE.format(
            bench=str(REPO / "bench"),
            tests=str(REPO / "tests"),
            assets=str(REPO / "tests" / "assets"),
            model=args.model,
            out=str(out),
        )
        subprocess.run(
            [sys.executable, "-c", script],
            check=True,
            capture_output=True,
            env=environment,
        )
        module = json.loads((out / "snapshot.json").read_text())["module"][:-3]
        jax = dict(environment, KERAS_BACKEND="jax")

        def run(code: str) -> dict[str, float]:
            done = subprocess.run(
                [sys.executable, "-c", code.format(module=module)],
                cwd=out,
                env=jax,
                check=True,
                capture_output=True,
                text=True,
            )
            found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
            return found

        rows = [run(_TIMED) for _ in range(args.repeat)]
        profiled = run(_PROFILED)
    print(f"{args.model}, JAX backend, medians of {args.repeat} fresh processes:")
    for stage in rows[0]:
        print(f"  {stage:<24} {statistics.median(r[stage] for r in rows):7.2f} s")
    for stage, seconds in profiled.items():
        print(f"  {stage:<24} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
