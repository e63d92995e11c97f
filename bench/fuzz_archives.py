"""Fuzz archive reading: mutated archives must only ever raise SnapshotError.

Run: python bench/fuzz_archives.py [--count 10000] [--seed 0]

Each mutation (byte flips, truncation, renamed or duplicated members, huge
declared sizes, manifest fields of the wrong type, module bytes changed with
their hash recorded, bzip2/LZMA members) of a good archive goes through
`snapshot inspect` (describe), `snapshot review`, `snapshot.load` with the
default trust and the checks `snapshot verify` makes before it starts an
interpreter; an intact-looking survivor also goes through a full `verify`
(the first few only: each starts a process). The good archive is saved into a
temporary trust store, so its own module is trusted and a changed one is not.
Prints the counts per outcome and exits 1 if any other exception escaped or a
file appeared in the folder.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Never the user's own trust store: the good archive's module is recorded here.
_STORE = tempfile.TemporaryDirectory(prefix="fuzz-trust-")
os.environ["KERAS_SNAPSHOT_TRUST_DIR"] = _STORE.name
REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "assets")]

import numpy as np  # noqa: E402
from archive_mutations import MUTATIONS  # noqa: E402

import snapshot  # noqa: E402
from snapshot.archive.inspect import describe_archive, summary  # noqa: E402
from snapshot.archive.reader import read_archive  # noqa: E402
from snapshot.archive.review import review_text  # noqa: E402
from statecases.models import StoresUnits  # noqa: E402

_FULL_VERIFICATIONS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    outcomes: collections.Counter[str] = collections.Counter()
    escaped = 0
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = StoresUnits(2)
        model(np.ones((1, 3), "float32"))
        good = snapshot.save(model, work / "good.snapshot", verify=False).read_bytes()
        target = work / "target"
        target.mkdir()
        verifications = 0
        for index in range(args.count):
            mutation = rng.choice(MUTATIONS)
            path = target / "fuzzed.snapshot"
            path.write_bytes(mutation(good, rng))
            for action in ("inspect", "review", "load", "verify"):
                try:
                    if action == "inspect":
                        summary(describe_archive(path))
                    elif action == "review":
                        review_text(read_archive(path), where=str(path), trusted=None)
                    elif action == "load":
                        snapshot.load(path)
                    else:
                        read_archive(path)
                        if verifications < _FULL_VERIFICATIONS:
                            verifications += 1
                            snapshot.verify(path)
                    outcomes[f"{action}: accepted"] += 1
                except snapshot.SnapshotError as error:
                    outcomes[f"{action}: {type(error).__name__}"] += 1
                except Exception:
                    escaped += 1
                    outcomes[f"{action}: ESCAPED {mutation.__name__}"] += 1
                    if escaped <= 3:
                        traceback.print_exc()
            stray = sorted(
                p.name for p in target.iterdir() if p.name != "fuzzed.snapshot"
            )
            if stray:
                print(f"mutation {index}: files appeared: {stray}")
                return 1
    print(f"{args.count} mutated archives, seed {args.seed}")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:<32} {count}")
    print(f"  other exceptions: {escaped}")
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
