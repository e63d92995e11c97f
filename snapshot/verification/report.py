"""What a verification found, as data and as a few readable lines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from snapshot.errors import VerificationError


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
        for line in (self.note, self.detail):
            if line:
                lines.append(f"  {line}")
        return "\n".join(lines)


def report_from_child(
    archive: str, found: dict[str, Any], *, tolerance: float | None
) -> VerificationReport:
    """Judge what the verifying child printed.

    It passes when every variable holds a stored weight, every stored weight
    is held, and the outputs differ by at most ``tolerance`` (by default what
    rounding explains, which the child computed from the recorded outputs).
    """
    if found.get("error"):
        return VerificationReport(
            archive,
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


def raise_unless_passed(report: VerificationReport, *, causes: list[str]) -> None:
    """Raise VerificationError for a failed report, naming likely ``causes``."""
    if report.passed:
        return
    cause = "; likely cause: " + "; or ".join(causes) if causes else ""
    raise VerificationError(f"verification failed: {report.detail}{cause}")
