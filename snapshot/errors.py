"""Exceptions raised by keras-snapshot; every message says what to fix.

All errors derive from :class:`SnapshotError`, carry a one-line ``str()`` (or one
line per problem for :class:`UnsupportedSourceError`) and can be pickled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from snapshot.model import Problem, Reason

#: Terminal colour sequences (SGR): Keras colours some of its messages.
_COLOUR_CODES = re.compile(r"\x1b\[[0-9;]*m")


def printable(text: str, *, keep: str = "") -> str:
    """``text`` with every character that is not printable escaped (``\\x1b``, ``\\u202e``).

    Archives come from anyone: a control character in a member name or a
    manifest string could move the cursor or repaint a terminal, and an
    invisible one (bidirectional overrides, zero-width spaces) could make text
    read otherwise than it is. ``keep`` lists characters left as they are
    (``"\\n"`` for multi-line output).
    """
    if text.isprintable():
        return text
    return "".join(
        (
            char
            if char.isprintable() or char in keep
            else char.encode("unicode_escape").decode("ascii")
        )
        for char in text
    )


def one_line(message: object, *, limit: int = 300) -> str:
    """Another library's error message folded onto one line, cut at ``limit``.

    Colour codes are dropped (they garble logs and files); any other
    unprintable character, a cursor move included, is escaped.
    """
    text = printable(" ".join(_COLOUR_CODES.sub("", str(message)).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(error: BaseException, *, at: str | None) -> str:
    """``path.py:12: ValueError: bad units``: what user code raised, and where.

    ``at`` is the innermost frame of the user's own code, when there is one;
    the exception itself stays chained (``raise ... from error``) for
    ``--debug`` and for tracebacks from the Python API.
    """
    where = f"{at}: " if at else ""
    return f"{where}{type(error).__name__}: {one_line(error)}"


class SnapshotError(Exception):
    """Base class of every error keras-snapshot raises for bad input."""

    #: Process exit status the CLI uses for this error.
    exit_code: int = 1
    #: Characters of the message shown as they are; every other unprintable
    #: character is escaped, as messages may quote what an archive holds.
    keep_in_message: str = "\n"

    def __str__(self) -> str:
        return printable(super().__str__(), keep=self.keep_in_message)


class TargetNotFoundError(SnapshotError):
    """The model module, file or class named by a target cannot be found."""


class NotAModelError(SnapshotError):
    """The target is not a subclass of ``keras.Model``."""


class SourceNotFoundError(SnapshotError):
    """A class has no source file the analyzer can read (REPL, ``exec``)."""


class SourceSyntaxError(SnapshotError):
    """A first-party source file does not parse."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: syntax error: {self.message}"


class UnsupportedSourceError(SnapshotError):
    """Code the model reaches cannot be extracted statically; lists every problem."""

    exit_code = 3

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(set(problems)))
        super().__init__(self.problems)

    def __str__(self) -> str:
        lines = ["cannot extract the model's code:"]
        for reason in Reason:
            matching = [p for p in self.problems if p.reason is reason]
            if matching:
                lines.append(f"* {reason.value}")
                lines.extend(f"    {problem}" for problem in matching)
        return "\n".join(lines)


class UserCodeError(SnapshotError):
    """The model's own code raised while keras-snapshot ran it (import, constructor, call)."""


class ModelStateError(SnapshotError):
    """The model's constructor arguments or inputs cannot be recorded or replayed."""


class WeightsError(SnapshotError):
    """A weights file is missing, unreadable or does not fit the model."""

    keep_in_message = ""


class ArchiveError(SnapshotError):
    """An archive cannot be written or read."""

    keep_in_message = ""


class UntrustedArchiveError(SnapshotError):
    """An archive's module is not trusted here, so it was not run."""

    exit_code = 5
    keep_in_message = ""


class CheckpointError(SnapshotError):
    """A ``SnapshotCheckpoint`` is given arguments it cannot work with."""


class VerificationError(SnapshotError):
    """The snapshot did not reproduce the model's outputs in a fresh interpreter."""

    exit_code = 4
