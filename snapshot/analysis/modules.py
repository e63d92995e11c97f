"""Find module files without importing them, and tell first-party code apart.

A module is *first-party* when its file lies outside the standard library and
every ``site-packages`` folder; ``SnapshotConfig.intern``/``extern`` override
that. First-party code is extracted into the snapshot, the rest stays an import.
"""

from __future__ import annotations

import enum
import functools
import importlib.machinery
import site
import sys
import sysconfig
from pathlib import Path

from snapshot.analysis.session import session_source
from snapshot.config import SnapshotConfig
from snapshot.model import ModuleSource


class Origin(enum.Enum):
    """Where an imported module comes from."""

    FIRST_PARTY = "first-party"
    THIRD_PARTY = "third-party"
    STDLIB = "stdlib"


def find_module(name: str) -> ModuleSource | None:
    """Locate the source file of module ``name`` without executing it.

    Already-imported modules are looked up in ``sys.modules`` (their ``sys.path``
    may since have changed); the rest through ``PathFinder``, one package level
    at a time, so no package ``__init__`` runs. Returns None for modules with no
    ``.py`` source (extension, built-in, namespace package) or that do not exist.
    ``__main__`` without a file is the code of its session (notebook cells,
    ``python -c``), when the interpreter kept it.
    """
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None) if module is not None else None
    if spec is None and name == "__main__":
        # A script run as `python train.py` has no spec, only its file.
        path = getattr(module, "__file__", None)
        if path is None or not path.endswith(".py"):
            return session_source()
        return ModuleSource(name=name, path=Path(path).resolve(), is_package=False)
    if spec is None:
        spec = _find_spec_statically(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return ModuleSource(
        name=name,
        path=Path(spec.origin).resolve(),
        is_package=spec.submodule_search_locations is not None,
    )


def _find_spec_statically(name: str) -> importlib.machinery.ModuleSpec | None:
    search_path: list[str] | None = None
    spec = None
    parts = name.split(".")
    for depth in range(len(parts)):
        prefix = ".".join(parts[: depth + 1])
        loaded = sys.modules.get(prefix)
        spec = getattr(loaded, "__spec__", None) if loaded is not None else None
        if spec is None:
            spec = importlib.machinery.PathFinder.find_spec(prefix, search_path)
        if spec is None:
            return None
        if depth < len(parts) - 1:
            if spec.submodule_search_locations is None:
                return None
            search_path = list(spec.submodule_search_locations)
    return spec


@functools.lru_cache(maxsize=8192)
def classify(name: str, *, config: SnapshotConfig) -> Origin:
    """Decide whether module ``name`` is first-party, third-party or stdlib."""
    if config.is_interned(name):
        return Origin.FIRST_PARTY
    top = name.partition(".")[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return Origin.STDLIB
    if config.is_externed(name):
        return Origin.THIRD_PARTY
    source = _nearest_source(name)
    if source is None:
        # No Python source: an extension module, or a module not installed here.
        return Origin.THIRD_PARTY
    if _is_installed_path(source.path):
        return Origin.THIRD_PARTY
    return Origin.FIRST_PARTY


def _nearest_source(name: str) -> ModuleSource | None:
    """The module's source, else its closest parent package's.

    A missing ``mypkg.gone`` is judged by ``mypkg``, so an import of first-party
    code that no longer exists is reported instead of kept as an import.
    """
    parts = name.split(".")
    for depth in range(len(parts), 0, -1):
        source = find_module(".".join(parts[:depth]))
        if source is not None:
            return source
    return None


def _is_installed_path(path: Path) -> bool:
    return any(path.is_relative_to(root) for root in _installed_roots())


@functools.cache
def _installed_roots() -> tuple[Path, ...]:
    """Folders whose modules count as installed (stdlib and site-packages)."""
    paths = sysconfig.get_paths()
    candidates = [
        paths["stdlib"],
        paths["platstdlib"],
        paths["purelib"],
        paths["platlib"],
    ]
    candidates += site.getsitepackages()
    if site.ENABLE_USER_SITE and site.USER_SITE:
        candidates.append(site.USER_SITE)
    return tuple(sorted({Path(p).resolve() for p in candidates if p}))


def user_frame(error: BaseException) -> str | None:
    """``path:line`` of the innermost traceback frame in the user's own code.

    Frames in the standard library, installed packages and keras-snapshot
    itself do not count: the user needs the line of theirs that failed.
    """
    own = Path(__file__).resolve().parents[1]
    found = None
    traceback = error.__traceback__
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        path = Path(filename)
        if not filename.startswith("<") and path.is_absolute():
            resolved = path.resolve()
            if not _is_installed_path(resolved) and not resolved.is_relative_to(own):
                found = f"{filename}:{traceback.tb_lineno}"
        traceback = traceback.tb_next
    return found
