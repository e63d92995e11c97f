"""What the verifying interpreter does: load the archive, count weights, run the probe.

It runs in a process where the model's own packages cannot be imported (a
fresh interpreter, or a child forked from the warm verifier) and returns one
JSON-ready dict, which :mod:`snapshot.verification.report` judges.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from snapshot.analysis.modules import user_frame
from snapshot.archive.loader import build_from_opened
from snapshot.archive.manifest import PROBE_NAME
from snapshot.archive.reader import read_archive
from snapshot.capture import probe
from snapshot.capture.random_state import RANDOM_STATE_GROUP
from snapshot.capture.state import specs_from_json
from snapshot.capture.versions import current_versions
from snapshot.errors import SnapshotError, describe_failure


def check_in_this_process(archive: str, *, module_sha256: str) -> dict[str, Any]:
    """Load ``archive`` here, running its module only if it hashes to ``module_sha256``."""
    result: dict[str, Any] = {"versions_now": current_versions()}
    try:
        with tempfile.TemporaryDirectory(prefix="snapshot-verify-") as folder:
            weights = Path(folder) / "model.weights.h5"
            opened = read_archive(Path(archive), weights_to=weights)
            result["versions_then"] = dict(opened.manifest.versions)
            model = build_from_opened(
                opened, weights, path=Path(archive), module_sha256=module_sha256
            )
            expected, loaded, stored = count_loaded_variables(model, weights)
        recorded = probe.from_bytes(opened.members[PROBE_NAME])
        specs = specs_from_json(opened.manifest.model.inputs)
        outputs = probe.run(model, specs, recorded.inputs)
    except SnapshotError as error:
        return result | {"error": str(error)}
    except Exception as error:
        # The generated module's own line, where the failure is in its code.
        return result | {"error": describe_failure(error, at=user_frame(error))}
    then = result["versions_then"].get("backend")
    now = result["versions_now"]["backend"]
    ulps, note = probe.SAME_BACKEND_ULPS, ""
    if then != now:
        ulps = probe.OTHER_BACKEND_ULPS
        note = (
            f"saved with the {then} backend, run with {now}: up to {ulps} units "
            f"in the last place of the largest output accepted (not {probe.SAME_BACKEND_ULPS})"
        )
    return result | {
        "max_abs_diff": probe.max_difference(recorded.outputs, outputs),
        "tolerance": probe.rounding_tolerance(recorded.outputs, ulps=ulps),
        "note": note,
        "variables_expected": expected,
        "variables_loaded": loaded,
        "weights_stored": stored,
    }


def count_loaded_variables(model: Any, weights_path: Path) -> tuple[int, int, int]:
    """``(variables, variables holding a stored weight, stored weights)``.

    A variable counts as loaded when its value is, byte for byte, one of the
    weights in the file (paired one to one): a variable Keras skipped keeps
    its initial value and does not count, unless that value happens to be
    what was stored.
    """
    import h5py
    import keras

    stored: Counter[tuple[tuple[int, ...], str, str]] = Counter()

    def visit(name: str, item: Any) -> None:
        # The optimizer's state, saved with a compiled model, is not the model's;
        # nor are its random generators' states.
        if isinstance(item, h5py.Dataset) and not name.startswith(
            ("optimizer/", f"{RANDOM_STATE_GROUP}/")
        ):
            stored[_fingerprint(item[()])] += 1

    with h5py.File(weights_path, "r") as weights:
        weights.visititems(visit)
    held = Counter(
        _fingerprint(keras.ops.convert_to_numpy(variable.value))
        for variable in model.weights
    )
    matched = sum((held & stored).values())
    return sum(held.values()), matched, sum(stored.values())


def _fingerprint(value: Any) -> tuple[tuple[int, ...], str, str]:
    import numpy as np

    array = np.ascontiguousarray(value)
    # Hashed in place: a copy of every array (tobytes) was a fifth of the count.
    flat = None if array.dtype.hasobject else array.reshape(-1).view(np.uint8)
    data = array.tobytes() if flat is None else flat.data
    return (tuple(array.shape), array.dtype.str, hashlib.sha256(data).hexdigest())
