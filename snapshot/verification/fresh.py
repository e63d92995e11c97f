"""Run the verification in a fresh interpreter that cannot import the original code.

The child is ``python -I`` in an empty working folder, with the model's own
top-level packages blocked by an import hook installed before anything else
runs, so any leftover dependency on them fails loudly. It runs
:func:`snapshot.verification.child.check_in_this_process` and prints JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from snapshot.verification.report import VerificationReport, report_from_child

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
from snapshot.verification.child import check_in_this_process
print(json.dumps(check_in_this_process(sys.argv[2], module_sha256=sys.argv[3])))
"""


def verify_in_fresh_interpreter(
    archive: Path,
    *,
    blocked: tuple[str, ...],
    module_sha256: str,
    tolerance: float | None = None,
) -> VerificationReport:
    """Load ``archive`` in ``python -I`` with ``blocked`` packages unimportable.

    The child runs the archive's module only if its sha256 is ``module_sha256``
    (the parent decided to trust it).

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
                module_sha256,
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
    return report_from_child(str(archive), json.loads(lines[-1]), tolerance=tolerance)
