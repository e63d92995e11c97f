"""Options that shape one snapshot run."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class SnapshotConfig:
    """Every option of the analysis, in one frozen object.

    ``intern`` and ``extern`` are glob patterns on dotted module names
    (``"keras_hub"``, ``"mycorp.*"``); a pattern also matches the submodules of
    what it names. ``intern`` wins over ``extern``.
    """

    #: Modules extracted into the snapshot even when installed as third-party code.
    intern: tuple[str, ...] = ()
    #: Modules kept as imports even when they are first-party code.
    extern: tuple[str, ...] = ()
    #: Record the git commit and dirty flag of the source files in the module header.
    record_git: bool = True

    def __post_init__(self) -> None:
        # Accept any iterable of patterns (lists from the CLI or from users).
        object.__setattr__(self, "intern", tuple(self.intern))
        object.__setattr__(self, "extern", tuple(self.extern))

    def is_interned(self, module: str) -> bool:
        """True when ``module`` matches an ``intern`` pattern."""
        return _matches_any(module, self.intern)

    def is_externed(self, module: str) -> bool:
        """True when ``module`` matches an ``extern`` pattern."""
        return _matches_any(module, self.extern)


def _matches_any(module: str, patterns: tuple[str, ...]) -> bool:
    parts = module.split(".")
    prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatchcase(prefix, pattern)
        for pattern in patterns
        for prefix in prefixes
    )
