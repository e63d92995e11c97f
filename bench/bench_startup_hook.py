"""What the startup hook costs: interpreter start, ``import keras``, making layers.

Run: python bench/bench_startup_hook.py [--repeat N] [--layers N]

keras-snapshot's ``.pth`` startup hook arms the constructor recorder when Keras
is first imported (see ``startup/_keras_snapshot_hook.py``). Each run is a fresh
interpreter of this environment, with the hook (``KERAS_SNAPSHOT_HOOK=1``) or
without it (``=0``), alternating, and times in the child:
  start     an interpreter that never imports Keras (``python -c pass``, wall time)
  import    ``import keras`` (with the hook: importing keras-snapshot's recorder
            and wrapping Keras' constructors too)
  layers    making N ``keras.layers.Dense(4)`` (with the hook: each call recorded)
Prints the medians and the fastest of N runs, and their ratios (with / without);
the runs alternate. Run to run, these
vary by a few percent, more than the hook costs; so two direct measures follow:
the hook's own share of ``import keras`` (``python -X importtime``: the self
times of keras-snapshot's modules), and what recording adds to one constructor
call (the recorder's wrapper around a bare ``__new__``, timed in process)
against what making one ``Dense(4)`` takes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

_CHILD = """
import json, sys, time
started = time.perf_counter()
import keras
imported = time.perf_counter()
layers = [keras.layers.Dense(4) for _ in range(int(sys.argv[1]))]
made = time.perf_counter()
print(json.dumps({
    "import": imported - started,
    "layers": made - imported,
    "armed": bool(getattr(keras.Model.__new__, "_snapshot_recorder", False)),
}))
"""


def _environment(hook: bool) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    environment["KERAS_SNAPSHOT_HOOK"] = "1" if hook else "0"
    return environment


def _start(hook: bool) -> float:
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=_environment(hook), check=True)
    return time.perf_counter() - begin


def _keras_run(hook: bool, layers: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, str(layers)],
        env=_environment(hook),
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    if found.pop("armed") != hook:
        raise SystemExit(f"the recorder was {'not ' if hook else ''}armed: hook={hook}")
    return found


def _hook_share_of_import() -> tuple[float, float]:
    """Seconds of ``import keras`` spent importing keras-snapshot, and in all."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import keras"],
        env=_environment(True),
        capture_output=True,
        text=True,
        check=True,
    )
    own = total = 0.0
    for line in completed.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        name = parts[2]
        if name.split(".")[0] in ("snapshot", "_keras_snapshot_hook"):
            own += int(parts[0]) / 1e6  # self time, microseconds
        if name == "keras":
            total = int(parts[1]) / 1e6  # cumulative
    return own, total


def _recording_cost(calls: int = 200_000) -> float:
    """Seconds the recorder's wrapper adds to one constructor call."""
    from snapshot.capture import record

    class Made:
        pass

    def bare(cls: type, *args: object, **kwargs: object) -> object:
        return object.__new__(cls)

    wrapped = record._recording(bare)
    timings = {}
    for name, new in (("bare", bare), ("wrapped", wrapped)):
        best = float("inf")
        for _ in range(5):
            begin = time.perf_counter()
            for _ in range(calls):
                new(Made, 4)
            best = min(best, time.perf_counter() - begin)
        timings[name] = best / calls
    return timings["wrapped"] - timings["bare"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--layers", type=int, default=10_000)
    options = parser.parse_args()
    results: dict[bool, dict[str, list[float]]] = {
        hook: {"start": [], "import": [], "layers": []} for hook in (False, True)
    }
    for run in range(options.repeat):
        # Alternating, first one then the other, so drift and warm caches hit
        # both alike.
        for hook in (False, True) if run % 2 == 0 else (True, False):
            results[hook]["start"].append(_start(hook))
            for key, value in _keras_run(hook, options.layers).items():
                results[hook][key].append(value)
    print(f"{options.repeat} runs each, {options.layers} layers; seconds")
    print(f"{'':8} {'median: without':>16} {'with':>8} {'ratio':>6}", end="")
    print(f" {'fastest: without':>17} {'with':>8} {'ratio':>6}")
    for key in ("start", "import", "layers"):
        print(f"{key:8}", end="")
        for summary in (statistics.median, min):
            without = summary(results[False][key])
            with_hook = summary(results[True][key])
            ratio = with_hook / without
            print(f" {without:16.4f} {with_hook:8.4f} {ratio:6.3f}", end="")
        print()
    own, total = _hook_share_of_import()
    print(
        f"keras-snapshot's own modules in `import keras` (-X importtime, self "
        f"times): {own * 1000:.1f} ms of {total:.2f} s ({own / total:.2%})"
    )
    per_layer = statistics.median(results[False]["layers"]) / options.layers
    added = _recording_cost()
    print(
        f"recording one constructor call: {added * 1e6:.2f} us; making one "
        f"Dense(4): {per_layer * 1e6:.0f} us ({added / per_layer:.3%})"
    )


if __name__ == "__main__":
    main()
