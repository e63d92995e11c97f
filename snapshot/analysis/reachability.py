"""Which methods of an extracted class anything reaches.

A method is reached when it is special (``__init__``), when it overrides a
method of a third-party base class (Keras calls ``build``, ``call``,
``get_config``...), when reached code touches an attribute of its name
(``x.method``, ``getattr(x, "method")``), or when it belongs to the model class
itself. The rest (preset download, exporters) is left out, and their
dependencies with them. Reaching is monotonic: a method left out now may be
revived when later code touches its name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from snapshot.model import Statement, StatementKind, SymbolRef


class MemberReachability:
    """The attribute names reached code touches, and what they keep alive."""

    def __init__(
        self, root: SymbolRef | None, is_first_party: Callable[[str], bool]
    ) -> None:
        #: The model class, whose own methods are all kept; None for a graph model.
        self.root = root
        self._is_first_party = is_first_party
        #: Attribute names that reached code touches.
        self.live_attributes: set[str] = set()

    def touch(self, names: Iterable[str]) -> None:
        """Record attribute names touched by code that is kept."""
        self.live_attributes.update(names)

    def unreached_members(
        self, statement: Statement, members: tuple[str, ...]
    ) -> set[str]:
        """Methods of a class statement that nothing reaches (yet)."""
        if statement.kind is not StatementKind.CLASS or not members:
            return set()
        name = statement.bound_names[0]
        if SymbolRef(statement.module, name) == self.root:
            return set()
        cls = getattr(sys.modules.get(statement.module), name, None)
        if not isinstance(cls, type) or cls.__module__ != statement.module:
            # Without the live class, overrides cannot be told: keep everything.
            return set()
        external = [
            base
            for base in cls.__mro__[1:]
            if not self._is_first_party(base.__module__)
        ]
        return {
            member
            for member in members
            if not (member.startswith("__") and member.endswith("__"))
            and not any(member in vars(base) for base in external)
            and member not in self.live_attributes
        }

    def revived(self, dead_members: Iterable[str]) -> set[str]:
        """The left-out methods whose name reached code touches by now."""
        return {member for member in dead_members if member in self.live_attributes}
