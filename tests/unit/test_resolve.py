"""Per-statement analysis: which module-level names a statement reads.

Both analyzers, the fast one (``ast`` + ``symtable``) used to walk the closure
and LibCST's (used where a statement is rewritten), must agree.
"""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from snapshot.analysis.cst_uses import analyse_statement
from snapshot.analysis.scopes import find_uses
from snapshot.model import Statement, StatementKind

ANALYZERS = {"symtable": find_uses, "libcst": analyse_statement}


@pytest.fixture(params=sorted(ANALYZERS))
def uses_of(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    analyse = ANALYZERS[request.param]

    def uses(
        code: str, first_line: int = 1
    ) -> list[tuple[str, tuple[str, ...], int, bool]]:
        text = textwrap.dedent(code)
        last = first_line + text.count("\n") - 1
        statement = Statement("m", 0, first_line, last, StatementKind.CLASS, ("A",))
        found = analyse(statement, text, path="m.py").uses
        return [(u.name, u.attributes, u.line, u.at_import_time) for u in found]

    return uses


def test_reads_are_classified_by_when_they_run(uses_of) -> None:  # type: ignore[no-untyped-def]
    uses = uses_of(
        """\
        @register("a")
        class A(base.Layer, metaclass=Meta):
            size = SIZE
            def call(self, x, scale=DEFAULT):
                local = helper(x)
                squares = [square(i) for i in range(3)]
                return layers_mod.Dense.apply(local) + size
        """,
        first_line=10,
    )
    assert uses == [
        ("register", (), 10, True),
        ("base", ("Layer",), 11, True),
        ("Meta", (), 11, True),
        ("SIZE", (), 12, True),
        ("DEFAULT", (), 13, True),
        ("helper", (), 14, False),
        ("square", (), 15, False),
        ("range", (), 15, False),
        ("layers_mod", ("Dense", "apply"), 16, False),
        # Class-level names are not visible in methods: this is a module-level read.
        ("size", (), 16, False),
    ]


def test_locals_closures_and_globals(uses_of) -> None:  # type: ignore[no-untyped-def]
    uses = uses_of("""\
        def outer(x):
            counter = 0
            def inner():
                nonlocal counter
                counter += 1
                return CACHE.get(x)
            global STATE
            STATE = inner
            return lambda y: y + OFFSET
        """)
    assert [(name, at_import) for name, _, _, at_import in uses] == [
        ("CACHE", False),
        ("OFFSET", False),
    ]


def test_string_annotations_are_read(uses_of) -> None:  # type: ignore[no-untyped-def]
    uses = uses_of("""\
        def build(config: "Config") -> "Dict[str, Layer]":
            return config
        """)
    assert sorted(name for name, *_ in uses) == ["Config", "Dict", "Layer", "str"]


def test_both_analyzers_agree_on_the_fixture_packages() -> None:
    from pathlib import Path

    from snapshot.analysis.parse import read_module
    from snapshot.model import ModuleSource

    assets = Path(__file__).resolve().parent.parent / "assets"
    compared = 0
    for path in sorted(assets.rglob("*.py")):
        parts = path.relative_to(assets).with_suffix("").parts
        package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if package else parts)
        index = read_module(ModuleSource(name, path, is_package=package))
        for statement in index.statements:
            text = index.statement_text(statement)
            # Only the fast analyzer tracks which method a read sits in.
            fast = [
                dataclasses.replace(u, member=None)
                for u in find_uses(statement, text, path=str(path)).uses
            ]
            # LibCST sees True/False/None as names; ast sees constants.
            slow = [
                u
                for u in analyse_statement(statement, text, path=str(path)).uses
                if u.name not in ("True", "False", "None")
            ]
            assert sorted(fast, key=repr) == sorted(slow, key=repr), (path, statement)
            compared += 1
    assert compared > 50


def test_reads_and_attributes_are_grouped_by_method() -> None:
    text = textwrap.dedent("""\
        class Net(Base):
            size = SIZE

            @cached(TIMEOUT)
            def from_preset(cls, name=DEFAULT):
                return download(name).weights

            def call(self, x):
                self.cache = getattr(self, "head")(x)
                return helper(x)
        """)
    statement = Statement("m", 0, 1, 10, StatementKind.CLASS, ("Net",))
    found = find_uses(statement, text, path="m.py")
    assert found.members == ("from_preset", "call")
    assert [(u.name, u.member) for u in found.uses] == [
        ("Base", None),
        ("SIZE", None),
        ("cached", "from_preset"),
        ("TIMEOUT", "from_preset"),
        ("DEFAULT", "from_preset"),
        ("download", "from_preset"),
        ("getattr", "call"),
        ("helper", "call"),
    ]
    assert found.attributes == {
        None: frozenset(),
        "from_preset": frozenset({"weights"}),
        "call": frozenset({"cache", "head"}),
    }
