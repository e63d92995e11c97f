"""Run the verification in a fresh interpreter that cannot import the original code.

The child is ``python -I`` in an empty working folder, with accelerators
hidden, its memory limited and the model's own top-level packages blocked by
an import hook before anything but the standard library is imported
(:func:`snapshot.verification.isolation.isolate`), so any leftover dependency
on them fails loudly. It runs
:func:`snapshot.verification.child.check_in_this_process` and prints JSON.
Past its timeout, its process group is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from snapshot.verification.device import child_environment
from snapshot.verification.limits import VerificationLimits
from snapshot.verification.report import ChildOutcome

#: argv: blocked packages (comma-separated), archive, module sha256, memory bytes.
_SCRIPT = """
import sys
from snapshot.verification.isolation import isolate
isolate(sys.argv[1].split(","), memory_bytes=int(sys.argv[4]))
import json
from snapshot.verification.child import check_in_this_process
print(json.dumps(check_in_this_process(sys.argv[2], module_sha256=sys.argv[3])))
"""


def run_fresh_child(
    archive: Path,
    *,
    blocked: tuple[str, ...],
    module_sha256: str,
    limits: VerificationLimits,
    work: Path,
) -> ChildOutcome:
    """Check ``archive`` in ``python -I`` started in the empty folder ``work``.

    ``work`` is also the child's TMPDIR; the caller owns it and removes it.
    """
    environment = child_environment(os.environ) | {"TMPDIR": str(work)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-c",
            _SCRIPT,
            ",".join(blocked),
            str(Path(archive).absolute()),
            module_sha256,
            str(limits.memory_bytes),
        ],
        cwd=work,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group, so that whatever it starts is stopped with it.
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        _stop(process)
        return ChildOutcome("fresh", None, None, timed_out=True)
    except BaseException:
        _stop(process)
        raise
    lines = stdout.strip().splitlines()
    found = None
    if process.returncode == 0 and lines:
        with contextlib.suppress(json.JSONDecodeError):
            found = json.loads(lines[-1])
    errors = stderr.strip().splitlines()
    return ChildOutcome(
        "fresh",
        found,
        process.returncode,
        last_error_line=errors[-1] if errors else "",
    )


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill the unreaped child's process group (what it started too), then reap it.

    Unreaped, its pid cannot have been given to another process group.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # Windows: no process groups
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)
