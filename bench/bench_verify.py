"""Benchmark verified saves: the warm verifier against the unverified save.

Run: python bench/bench_verify.py [--repeat N] [--keras-hub] [--real-sizes]
                                  [--pause S] [--only NAME]

Each model is measured in two fresh processes, so that "first" is the first
save of a process (nothing imported for verification, nothing cached, black's
disk cache off): one saves without verification once; the other saves with
verification (the default), then repeatedly. Seconds, medians of N:
  keras     a fresh process that runs `import keras` (the same for every row)
  first     the first save of a process without verification, and with it;
            ratio: with / max(keras, without), the issue's target is <= 1.2
  save      a later save without verification
  build     build_model() of the generated module in the saving process (a
            later call; the first call, which traces, in parentheses)
  +verify   a later verified save, right after the previous one (b2b), and
            after a pause of S seconds, as between checkpoints of a training
            run (the pause is not timed); ratio: / (save + build), the
            issue's target is <= 1.5
  path      the path that verified: fork (a child of the warm verifier) or
            fresh, for the first save and for the later ones
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from timing import median_seconds

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keras-hub", action="store_true")
    parser.add_argument("--real-sizes", action="store_true")
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_work(args)))
        return
    names = _case_names(args)
    keras_import = _cold_import_seconds(args.repeat)
    print(
        f"{'model':<30}{'keras':>7}{'first':>7}{'+verify':>8}{'ratio':>6}"
        f"{'save':>7}{'build':>15}{'b2b':>7}{'ratio':>6}{'paused':>7}{'ratio':>6}"
        f"  path (first, later)"
    )
    for name in names:
        plain = _worker(name, args, verify=False)
        verified = _worker(name, args, verify=True)
        first_ratio = verified["first"] / max(keras_import, plain["first"])
        base = verified["save"] + verified["build"]
        print(
            f"{name:<30}{keras_import:>7.2f}{plain['first']:>7.2f}"
            f"{verified['first']:>8.2f}{first_ratio:>6.2f}{verified['save']:>7.3f}"
            f"{verified['build']:>7.3f} ({verified['build_first']:>5.3f})"
            f"{verified['b2b']:>7.3f}{verified['b2b'] / base:>6.2f}"
            f"{verified['paused']:>7.3f}{verified['paused'] / base:>6.2f}"
            f"  {verified['first_path']}, {verified['later_path']}",
            flush=True,
        )


def _case_names(args: argparse.Namespace) -> list[str]:
    code = (
        "import json, sys; from bench_verify import _cases; "
        "print(json.dumps([c.name for c in _cases(sys.argv[1] == '1', sys.argv[2] == '1')]))"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(int(args.keras_hub)),
            str(int(args.real_sizes)),
        ],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        check=True,
    )
    names: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return [name for name in names if args.only in name]


def _worker(name: str, args: argparse.Namespace, *, verify: bool) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--repeat",
        str(args.repeat),
        "--pause",
        str(args.pause),
    ]
    command += ["--keras-hub"] if args.keras_hub else []
    command += ["--real-sizes"] if args.real_sizes else []
    command += ["--verify"] if verify else []
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{name}: {completed.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return found


def _cold_import_seconds(repeat: int) -> float:
    return median_seconds(
        lambda: subprocess.run([sys.executable, "-c", "import keras"], check=True),
        repeat,
    )


def _cases(keras_hub: bool, real_sizes: bool) -> list[Any]:
    """The cases of bench_snapshot.py, which this benchmark shares."""
    import bench_snapshot

    cases = list(bench_snapshot.CASES)
    cases += bench_snapshot._keras_hub_cases() if keras_hub else []
    cases += bench_snapshot._real_size_cases() if real_sizes else []
    return cases


def _work(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: time the first save of ``args.worker``, then later ones."""
    sys.path.insert(0, str(REPO / "bench"))
    import snapshot

    (case,) = [
        c for c in _cases(args.keras_hub, args.real_sizes) if c.name == args.worker
    ]
    model, batch = case.make()
    inputs = None if case.name.startswith("seed_") else batch
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "model.snapshot"

        def save(verify: bool) -> str:
            snapshot.save(
                model,
                archive,
                inputs=inputs,
                overwrite=True,
                verify=verify,
                intern=case.intern,
            )
            return _path_taken(archive) if verify else ""

        first, first_path = _timed(lambda: save(args.verify))
        if not args.verify:
            return {"first": first}
        found: dict[str, Any] = {"first": first, "first_path": first_path}
        found["save"] = median_seconds(lambda: save(False), args.repeat)
        b2b = [_timed(lambda: save(True)) for _ in range(args.repeat)]
        paused = []
        for _ in range(args.repeat):
            time.sleep(args.pause)
            paused.append(_timed(lambda: save(True)))
        found["b2b"] = statistics.median(t for t, _ in b2b)
        found["paused"] = statistics.median(t for t, _ in paused)
        found["later_path"] = "/".join(sorted({p for _, p in b2b + paused}))
        found["build_first"], found["build"] = _build_seconds(
            archive, Path(folder), args.repeat
        )
    return found


def _build_seconds(archive: Path, folder: Path, repeat: int) -> tuple[float, float]:
    """The first and the median later ``build_model()`` of the generated module."""
    unpacked = folder / "unpacked"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(unpacked)
    manifest = json.loads((unpacked / "snapshot.json").read_text())
    sys.path.insert(0, str(unpacked))
    module = importlib.import_module(Path(manifest["module"]).stem)
    first, _ = _timed(module.build_model)
    return first, median_seconds(module.build_model, repeat)


def _path_taken(archive: Path) -> str:
    from snapshot.verification.report import METHODS

    with zipfile.ZipFile(archive) as opened:
        method = json.loads(opened.read("snapshot.json"))["verification"]["method"]
    return next(name for name, text in METHODS.items() if text == method)


def _timed(function: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
