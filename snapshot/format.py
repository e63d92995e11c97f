"""Format the generated module with black, and check the result the way black does."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import black

from snapshot.render import RenderedSource

_MODE = black.Mode(target_versions={black.TargetVersion.PY310})


@dataclass(frozen=True)
class FormattedSource:
    """The generated module's final text."""

    text: str


def format_source(rendered: RenderedSource) -> FormattedSource:
    """Black-format ``rendered``; the output must parse and be stable under black."""
    formatted = black.format_str(rendered.text, mode=_MODE)
    ast.parse(formatted)
    if black.format_str(formatted, mode=_MODE) != formatted:
        raise RuntimeError("black does not format the generated module stably")
    return FormattedSource(formatted)
