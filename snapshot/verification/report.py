"""What a verification found, as data and as a few readable lines."""

from __future__ import annotations

import re
import signal
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from snapshot.errors import VerificationError
from snapshot.verification.limits import (
    MEMORY_VARIABLE,
    TIMEOUT_VARIABLE,
    VerificationLimits,
)

#: What each path is called in reports and in the manifest's verification record.
METHODS = {
    "fork": "child forked from a warm interpreter (python -I), original packages blocked",
    "fresh": "fresh interpreter (python -I), original packages blocked",
}


@dataclass(frozen=True)
class VerificationReport:
    """What a verification found."""

    archive: str
    passed: bool
    #: Largest absolute difference between recorded and reproduced outputs.
    max_abs_diff: float | None
    #: The difference accepted; None when loading failed before it was decided.
    tolerance: float | None
    #: Variables of the rebuilt model.
    variables_expected: int | None = None
    #: Variables whose value is, byte for byte, one of the stored weights.
    variables_loaded: int | None = None
    #: Weights the archive stores (optimizer state not counted).
    weights_stored: int | None = None
    #: Versions recorded at save time and found now.
    versions_then: dict[str, str] = field(default_factory=dict)
    versions_now: dict[str, str] = field(default_factory=dict)
    #: Why it failed, in one line; empty when it passed.
    detail: str = ""
    #: Anything that changed how the outputs were judged, in one line.
    note: str = ""
    #: Which path ran the check: ``fork`` (a child of the warm verifier) or ``fresh``.
    method: str = "fresh"
    #: Why a fresh interpreter ran although a warm verifier was running.
    fallback: str = ""

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
                f"  weights: {self.variables_loaded} of {self.variables_expected} "
                f"variables hold a stored weight ({self.weights_stored} stored)"
            )
        for name in sorted(set(self.versions_then) | set(self.versions_now)):
            then, now = self.versions_then.get(name, "-"), self.versions_now.get(
                name, "-"
            )
            note = "" if then == now else "  (changed)"
            lines.append(f"  {name}: {then} then, {now} now{note}")
        fallback = f" ({self.fallback})" if self.fallback else ""
        lines.append(f"  checked in: {METHODS.get(self.method, self.method)}{fallback}")
        for line in (self.note, self.detail):
            if line:
                lines.append(f"  {line}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ChildOutcome:
    """How a verifying child ended, whichever path ran it."""

    #: ``fork`` or ``fresh``.
    method: str
    #: The JSON object the child answered with; None when it gave none.
    found: dict[str, Any] | None
    #: Exit status; negative: killed by that signal; None when it timed out.
    returncode: int | None
    #: The child ran past its timeout and was killed.
    timed_out: bool = False
    #: Last line the child wrote to stderr.
    last_error_line: str = ""


def report_from_outcome(
    archive: str,
    outcome: ChildOutcome,
    *,
    tolerance: float | None,
    limits: VerificationLimits,
) -> VerificationReport:
    """Judge a child's outcome; the same judgement for every path."""
    failure = _failure(outcome, limits)
    if failure:
        report = _failed(archive, outcome.found or {}, failure, tolerance=tolerance)
        return replace(report, method=outcome.method)
    assert outcome.found is not None
    report = report_from_child(archive, outcome.found, tolerance=tolerance)
    return replace(report, method=outcome.method)


_MEMORY_ERROR = re.compile(r"(^|: )MemoryError\b")


def _failure(outcome: ChildOutcome, limits: VerificationLimits) -> str:
    """Why the child gave no verdict, in one line; ``""`` when it gave one."""
    if outcome.timed_out:
        return (
            f"verification did not finish within {limits.timeout_seconds:g} s and was "
            f"stopped ({TIMEOUT_VARIABLE} sets the limit)"
        )
    error = str((outcome.found or {}).get("error", ""))
    last = outcome.last_error_line
    # The error may start with the generated module's file:line.
    if _MEMORY_ERROR.search(error) or "bad_alloc" in last:
        return (
            f"verification ran out of memory under its limit of "
            f"{limits.describe_memory()} ({MEMORY_VARIABLE} sets the limit)"
        )
    if outcome.found is not None and outcome.returncode == 0:
        return ""
    code = outcome.returncode or 0
    died = f" (killed by {_signal_name(-code)})" if code < 0 else ""
    return f"loading failed{died}: {last or 'no output'}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def report_from_child(
    archive: str, found: dict[str, Any], *, tolerance: float | None
) -> VerificationReport:
    """Judge what the verifying child printed.

    It passes when every variable holds a stored weight, every stored weight
    is held, and the outputs differ by at most ``tolerance`` (by default what
    rounding explains, which the child computed from the recorded outputs).
    """
    if found.get("error"):
        return _failed(archive, found, found["error"], tolerance=tolerance)
    difference = float(found["max_abs_diff"])
    # A tolerance the caller gives replaces the child's default and its note.
    note = ""
    if tolerance is None:
        tolerance, note = float(found["tolerance"]), found["note"]
    expected, loaded = found["variables_expected"], found["variables_loaded"]
    stored = found["weights_stored"]
    problems = []
    if not (expected == loaded == stored):
        problems.append(
            f"{loaded} of {expected} variables hold a stored weight "
            f"({stored} stored)"
        )
    if not difference <= tolerance:
        problems.append(f"outputs differ by up to {difference:.3g}")
    return VerificationReport(
        archive=archive,
        passed=not problems,
        max_abs_diff=difference,
        tolerance=tolerance,
        variables_expected=expected,
        variables_loaded=loaded,
        weights_stored=stored,
        versions_then=found["versions_then"],
        versions_now=found["versions_now"],
        detail="; ".join(problems),
        note=note,
    )


def _failed(
    archive: str, found: dict[str, Any], detail: str, *, tolerance: float | None
) -> VerificationReport:
    """A report of a check that gave no verdict, with what versions it saw."""
    return VerificationReport(
        archive,
        False,
        None,
        tolerance,
        versions_then=found.get("versions_then", {}),
        versions_now=found.get("versions_now", {}),
        detail=detail,
    )


def raise_unless_passed(report: VerificationReport, *, causes: list[str]) -> None:
    """Raise VerificationError for a failed report, naming likely ``causes``."""
    if report.passed:
        return
    cause = "; likely cause: " + "; or ".join(causes) if causes else ""
    raise VerificationError(f"verification failed: {report.detail}{cause}")
