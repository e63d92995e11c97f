"""Verify an archive in a forked child of the warm verifier, or in a fresh interpreter.

Both paths run the same check under the same isolation and limits, and their
outcomes are judged by the same function, so a verdict does not depend on
the path; the report says which one ran. ``KERAS_SNAPSHOT_VERIFIER=fresh``
always takes the fresh interpreter.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from snapshot.errors import SnapshotError
from snapshot.verification import warm
from snapshot.verification.fresh import run_fresh_child
from snapshot.verification.helper import WORK_NAME
from snapshot.verification.limits import (
    VerificationLimits,
    check_environment,
    limits_for,
)
from snapshot.verification.report import (
    ChildOutcome,
    VerificationReport,
    report_from_outcome,
)

VERIFIER_VARIABLE = "KERAS_SNAPSHOT_VERIFIER"


def start_warm_verifier() -> None:
    """Start this process's warm verifier in the background, if it may fork.

    Malformed verification settings are refused here, before a save does any work.
    """
    check_environment()
    if _fork_allowed():
        warm.start()


def verify_archive(
    archive: Path,
    *,
    blocked: tuple[str, ...],
    module_sha256: str,
    tolerance: float | None = None,
    limits: VerificationLimits | None = None,
) -> VerificationReport:
    """Load ``archive`` where ``blocked`` packages cannot be imported; judge the result.

    Runs in a child forked from this process's warm verifier when one is
    running and usable, else in a fresh interpreter. The child runs the
    archive's module only if it hashes to ``module_sha256``. ``limits``
    default to :func:`limits_for` the archive.
    """
    limits = limits or limits_for(Path(archive))
    outcome = _in_forked_child(
        archive, blocked=blocked, module_sha256=module_sha256, limits=limits
    )
    fallback = ""
    if isinstance(outcome, str):
        fallback, outcome = outcome, None
    if outcome is None:
        with _request_folder() as folder:
            outcome = run_fresh_child(
                archive,
                blocked=blocked,
                module_sha256=module_sha256,
                limits=limits,
                work=folder / WORK_NAME,
            )
    report = report_from_outcome(
        str(archive), outcome, tolerance=tolerance, limits=limits
    )
    return replace(report, fallback=fallback)


def _in_forked_child(
    archive: Path,
    *,
    blocked: tuple[str, ...],
    module_sha256: str,
    limits: VerificationLimits,
) -> ChildOutcome | str | None:
    """The outcome from a forked child; else why not (None: no warm verifier)."""
    if not _fork_allowed() or warm.running() is None:
        return None
    with _request_folder() as folder:
        return warm.verify_forked(
            archive,
            blocked=blocked,
            module_sha256=module_sha256,
            limits=limits,
            folder=folder,
        )


@contextlib.contextmanager
def _request_folder() -> Iterator[Path]:
    """A folder for one child, with its empty working folder; removed on every path.

    The child's files (its TMPDIR is the working folder) go with it, even when
    it was killed: its supervisor kills what it started before answering.
    """
    folder = Path(tempfile.mkdtemp(prefix="snapshot-verify-"))
    try:
        (folder / WORK_NAME).mkdir()
        yield folder
    finally:
        # A process killed an instant ago may still finish one file operation.
        for attempt in range(3):
            try:
                shutil.rmtree(folder)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05 * (attempt + 1))


def _fork_allowed() -> bool:
    choice = os.environ.get(VERIFIER_VARIABLE, "auto")
    if choice not in ("auto", "fresh"):
        raise SnapshotError(
            f"{VERIFIER_VARIABLE} must be 'auto' or 'fresh', not {choice!r}"
        )
    return choice == "auto"
