"""Per-statement LibCST analysis: which module-level names a statement reads."""

from __future__ import annotations

import textwrap

from snapshot.model import Statement, StatementKind
from snapshot.resolve import analyse_statement


def uses_of(
    code: str, first_line: int = 1
) -> list[tuple[str, tuple[str, ...], int, bool]]:
    text = textwrap.dedent(code)
    statement = Statement(
        "m",
        0,
        first_line,
        first_line + text.count("\n") - 1,
        StatementKind.CLASS,
        ("A",),
    )
    analysis = analyse_statement(statement, text, path="m.py")
    return [(u.name, u.attributes, u.line, u.at_import_time) for u in analysis.uses]


def test_reads_are_classified_by_when_they_run() -> None:
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


def test_locals_closures_and_globals() -> None:
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


def test_string_annotations_are_read() -> None:
    uses = uses_of("""\
        def build(config: "Config") -> "Dict[str, Layer]":
            return config
        """)
    assert sorted(name for name, *_ in uses) == ["Config", "Dict", "Layer", "str"]
