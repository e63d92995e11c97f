"""Profile one verification check as the warm verifier's forked child runs it.

Run: python bench/profile_check.py [--model seed_custom_layer|bert_base] [--repeat N]

The archive is saved (unverified) in a process of its own; then this process,
which imports Keras and the check and starts no runtime, forks children that
warm the backend up as a spare does and run the check on it under cProfile.
Prints, per child, the check's wall-clock seconds and the cumulative seconds
of its stages (medians over the children):
  read       reading the archive: members checked, weights extracted and hashed
  build      the generated module's build_model()
  init       ... of which the weight initialisers (values the weights replace)
  load       Keras' load_weights
  count      counting the variables that hold a stored weight
  probe      the forward pass on the probe batch
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_SAVE = {
    "seed_custom_layer": """
import sys, numpy as np, snapshot
sys.path.insert(0, {examples!r})
from seed_custom_layer import MyModel
model = MyModel()
model(np.ones((2, 3), "float32"))
snapshot.save(model, {path!r}, verify=False)
""",
    "bert_base": """
import numpy as np, keras_hub, snapshot
tokens = {{"token_ids": np.ones((1, 16), "int32"),
          "segment_ids": np.zeros((1, 16), "int32"),
          "padding_mask": np.ones((1, 16), "int32")}}
model = keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=12,
    num_heads=12, hidden_dim=768, intermediate_dim=3072, max_sequence_length=512)
model(tokens)
snapshot.save(model, {path!r}, inputs=tokens, intern=["keras_hub"], verify=False)
""",
}

#: stage -> (file name ends with, function name) whose cumulative time it is.
_STAGES = {
    "read": ("snapshot/archive/reader.py", "read_archive"),
    "build": ("_snapshot.py", "build_model"),
    "init": ("keras/src/backend/tensorflow/core.py", "_initialize_with_initializer"),
    "load": ("keras/src/saving/saving_lib.py", "load_weights_only"),
    "count": ("snapshot/verification/child.py", "count_loaded_variables"),
    "probe": ("snapshot/capture/probe.py", "run"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(_SAVE), default="seed_custom_layer")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "model.snapshot"
        script = _SAVE[args.model].format(
            examples=str(REPO / "examples"), path=str(archive)
        )
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
        members = zipfile.ZipFile(archive)
        module = json.loads(members.read("snapshot.json"))["module"]
        digest = hashlib.sha256(members.read(module)).hexdigest()
        rows = [_profile_in_child(archive, digest) for _ in range(args.repeat)]
    names = ["check", *_STAGES]
    print("".join(f"{name:>8}" for name in names))
    print("".join(f"{statistics.median(r[n] for r in rows):>8.3f}" for n in names))


def _profile_in_child(archive: Path, digest: str) -> dict[str, float]:
    """Fork a child that warms up like a spare, then profiles the check."""
    import keras  # noqa: F401  (imported before the fork, as in the helper)

    from snapshot.verification.child import check_in_this_process
    from snapshot.verification.helper import _warm_up

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        row: dict[str, object] = {"error": "the child failed before the check ended"}
        try:
            os.close(read)
            _warm_up()
            os.chdir(tempfile.mkdtemp())
            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            found = check_in_this_process(str(archive), module_sha256=digest)
            profile.disable()
            row = {"check": time.perf_counter() - start, **_stage_times(profile)}
            if found.get("error"):
                row["error"] = found["error"]
        finally:
            # Never back into the parent's code, whatever happened here.
            os.write(write, json.dumps(row).encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        row = json.loads(answer.read())
    os.waitpid(pid, 0)
    if "error" in row:
        raise SystemExit(f"the check failed: {row['error']}")
    return row


def _stage_times(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    found = dict.fromkeys(_STAGES, 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        for stage, (ending, name) in _STAGES.items():
            if function == name and filename.endswith(ending):
                found[stage] = max(found[stage], cumulative)
    return found


if __name__ == "__main__":
    main()
