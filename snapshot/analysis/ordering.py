"""Order extracted statements so that each runs after what it needs at import time.

Statements come from several modules into one. Hard edges (reads at import
time, and statements of one module touching the same name) must hold; soft
edges (reads inside function bodies) only make the module read top-down and
hold where they can. Ties go to module name, then source position, so the
order never depends on the walk.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from snapshot.analysis.resolution import Resolved
from snapshot.model import NameUse, SymbolRef

#: A statement's key: (module, index of the statement in its module).
StatementKey = tuple[str, int]
#: For each statement, the statements that should come before it.
Edges = dict[StatementKey, set[StatementKey]]


def dependency_edges(
    reads: Mapping[StatementKey, tuple[tuple[NameUse, Resolved], ...]],
    statements_of: Mapping[SymbolRef, tuple[int, ...]],
) -> tuple[Edges, Edges]:
    """``(hard, soft)`` edges between the statements in ``reads``.

    ``reads`` holds each statement's module-level reads with what they denote;
    ``statements_of`` the statements binding or changing each reached symbol.
    """
    hard: Edges = {key: set() for key in reads}
    soft: Edges = {key: set() for key in reads}
    for key, pairs in reads.items():
        for use, resolved in pairs:
            if resolved.symbol is None:
                continue
            for position in statements_of.get(resolved.symbol, ()):
                other = (resolved.symbol.module, position)
                # A statement reading a name that a later statement of its own
                # module rebinds or changes depends on the earlier ones only.
                if other == key or (other[0] == key[0] and other[1] > key[1]):
                    continue
                (hard if use.at_import_time else soft)[key].add(other)
    for symbol, positions in statements_of.items():
        for earlier, later in itertools.pairwise(positions):
            hard[(symbol.module, later)].add((symbol.module, earlier))
    return hard, soft


def import_order(
    keys: list[StatementKey], hard: Edges, soft: Edges
) -> list[StatementKey]:
    """``keys`` ordered so hard edges always hold and soft edges where they can.

    Among the statements whose hard dependencies are placed, one whose soft
    dependencies are placed too goes first; ties go to module name, then
    source position. An import-time cycle (which Python could not run either)
    falls back to source order so the result stays deterministic.
    """
    placed: set[StatementKey] = set()
    ordered: list[StatementKey] = []
    remaining = sorted(keys)
    while remaining:
        ready = [key for key in remaining if hard[key] <= placed] or remaining[:1]
        settled = [key for key in ready if soft[key] - {key} <= placed]
        key = (settled or ready)[0]
        remaining.remove(key)
        placed.add(key)
        ordered.append(key)
    return ordered
