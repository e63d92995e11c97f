"""Prove a snapshot loads without the original code and reproduces the model's outputs.

The check runs in a fresh interpreter (``python -I``, an empty working folder)
in which the model's own top-level packages are blocked by an import hook, so
any leftover dependency on them fails loudly. There the archive is loaded,
every weight is checked to be matched, and the probe batch stored in the
archive is run and compared with the outputs recorded at save time.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from snapshot.errors import VerificationError, one_line

#: Runs first in the verifying interpreter; argv[1] lists the blocked packages.
_BLOCKER = """
import importlib.abc, sys
BLOCKED = {name for name in sys.argv[1].split(",") if name}
class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is part of the original code, which a snapshot must not need")
        return None
sys.meta_path.insert(0, _Blocker())
"""

_CHECK = """
import json
from snapshot.verification import check_in_this_process
print(json.dumps(check_in_this_process(sys.argv[2], trust=sys.argv[3] == "trust")))
"""


@dataclass(frozen=True)
class VerificationReport:
    """What a verification found."""

    archive: str
    passed: bool
    #: Largest absolute difference between recorded and reproduced outputs.
    max_abs_diff: float | None
    #: The difference accepted; None when loading failed before it was decided.
    tolerance: float | None
    variables_expected: int | None = None
    variables_loaded: int | None = None
    #: Versions recorded at save time and found now.
    versions_then: dict[str, str] = field(default_factory=dict)
    versions_now: dict[str, str] = field(default_factory=dict)
    #: Why it failed, in one line; empty when it passed.
    detail: str = ""
    #: Anything that changed how the outputs were judged, in one line.
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""
        verdict = "verified" if self.passed else "FAILED"
        lines = [f"{self.archive}: {verdict}"]
        if self.max_abs_diff is not None:
            lines.append(
                f"  outputs: max abs difference {self.max_abs_diff:.3g} "
                f"(tolerance {self.tolerance:.3g})"
            )
        if self.variables_expected is not None:
            lines.append(
                f"  weights: {self.variables_loaded} of {self.variables_expected} variables loaded"
            )
        for name in sorted(set(self.versions_then) | set(self.versions_now)):
            then, now = self.versions_then.get(name, "-"), self.versions_now.get(
                name, "-"
            )
            note = "" if then == now else "  (changed)"
            lines.append(f"  {name}: {then} then, {now} now{note}")
        for line in (self.note, self.detail):
            if line:
                lines.append(f"  {line}")
        return "\n".join(lines)


def verify_in_fresh_interpreter(
    archive: Path,
    *,
    blocked: tuple[str, ...],
    tolerance: float | None = None,
    trust: bool = False,
) -> VerificationReport:
    """Load ``archive`` in ``python -I`` with ``blocked`` packages unimportable.

    Without ``tolerance``, the difference rounding explains for the recorded
    outputs is accepted: more when the verifying interpreter runs another Keras
    backend than the one that saved the model (``KERAS_BACKEND`` is inherited).
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory(prefix="snapshot-verify-") as empty:
        completed = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                _BLOCKER + _CHECK,
                ",".join(blocked),
                str(Path(archive).absolute()),
                "trust" if trust else "audit",
            ],
            cwd=empty,
            env=environment,
            capture_output=True,
            text=True,
        )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        last = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        return VerificationReport(
            str(archive), False, None, tolerance, detail=f"loading failed: {last[0]}"
        )
    found = json.loads(lines[-1])
    if found.get("error"):
        return VerificationReport(
            str(archive),
            False,
            None,
            tolerance,
            versions_then=found.get("versions_then", {}),
            versions_now=found.get("versions_now", {}),
            detail=found["error"],
        )
    difference = float(found["max_abs_diff"])
    # A tolerance the caller gives replaces the child's default and its note.
    note = ""
    if tolerance is None:
        tolerance, note = float(found["tolerance"]), found["note"]
    passed = difference <= tolerance
    return VerificationReport(
        archive=str(archive),
        passed=passed,
        max_abs_diff=difference,
        tolerance=tolerance,
        variables_expected=found["variables_expected"],
        variables_loaded=found["variables_loaded"],
        versions_then=found["versions_then"],
        versions_now=found["versions_now"],
        detail="" if passed else f"outputs differ by up to {difference:.3g}",
        note=note,
    )


def check_in_this_process(archive: str, *, trust: bool = False) -> dict[str, Any]:
    """Load ``archive`` here and compare probe outputs; the verifying child runs this."""
    from snapshot import probe
    from snapshot.archive import read_archive
    from snapshot.errors import SnapshotError
    from snapshot.loader import load_archive
    from snapshot.state import specs_from_json

    result: dict[str, Any] = {"versions_now": current_versions()}
    try:
        opened = read_archive(Path(archive))
        result["versions_then"] = opened.manifest.versions
        model = load_archive(Path(archive), trust=trust)
        stored = probe.from_bytes(opened.members[probe.PROBE_NAME])
        specs = specs_from_json(opened.manifest.model["inputs"])
        outputs = probe.run(model, specs, stored.inputs)
    except SnapshotError as error:
        return result | {"error": str(error)}
    except Exception as error:
        return result | {"error": f"{type(error).__name__}: {one_line(error)}"}
    variables = len(model.weights)
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
        "max_abs_diff": probe.max_difference(stored.outputs, outputs),
        "tolerance": probe.rounding_tolerance(stored.outputs, ulps=ulps),
        "note": note,
        "variables_expected": variables,
        "variables_loaded": variables,
    }


def current_versions() -> dict[str, str]:
    """Versions that decide whether a snapshot reproduces its outputs."""
    import keras
    import numpy

    from snapshot.version import __version__

    versions = {
        "keras_snapshot": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
    }
    # The backend's own package is already imported by Keras.
    backend_package = sys.modules.get(keras.backend.backend())
    if backend_package is not None and hasattr(backend_package, "__version__"):
        versions[keras.backend.backend()] = backend_package.__version__
    return versions


def raise_unless_passed(report: VerificationReport, *, causes: list[str]) -> None:
    """Raise VerificationError for a failed report, naming likely ``causes``."""
    if report.passed:
        return
    cause = "; likely cause: " + "; or ".join(causes) if causes else ""
    raise VerificationError(f"verification failed: {report.detail}{cause}")
