"""What every verifying child does before it loads an archive.

It blocks the packages the model's code came from, so that a snapshot still
needing them fails loudly, and limits its own memory. This module imports only
the standard library, so the fresh child runs it before anything else; a
forked child runs it first thing after the fork.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterable, Sequence
from types import ModuleType

from snapshot.verification.limits import restrict_memory


class PackageBlocker(importlib.abc.MetaPathFinder):
    """Refuses to import the named top-level packages and their submodules."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(name for name in names if name)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ImportError(
                f"{fullname} is part of the original code, which a snapshot must not need"
            )
        return None


def already_imported(names: Iterable[str]) -> list[str]:
    """Those of ``names`` this process has imported: a blocker cannot unimport them."""
    loaded = {module.partition(".")[0] for module in sys.modules}
    return sorted(set(names) & loaded)


def isolate(blocked: Iterable[str], *, memory_bytes: int) -> None:
    """Block ``blocked`` packages (first on ``sys.meta_path``) and limit memory."""
    sys.meta_path.insert(0, PackageBlocker(blocked))
    restrict_memory(memory_bytes)
