"""The ast index: top-level statements, the names they bind and change."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from snapshot.analysis.parse import absolute_module, read_module
from snapshot.errors import SourceSyntaxError
from snapshot.model import ImportItem, ModuleSource, StatementKind


def index_of(tmp_path: Path, code: str, name: str = "pkg.sub.mod"):
    path = tmp_path / "mod.py"
    path.write_text(textwrap.dedent(code))
    return read_module(ModuleSource(name, path, is_package=False))


def test_bindings_statements_and_kinds(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        """\
        import numpy as np
        from .. import utils as U
        from .layers import Dense, Conv as C

        # A comment that belongs to RATE.
        RATE = 0.1
        a = 1; b = 2


        @decorate
        class Net(Base):
            pass

        REGISTRY = {}
        REGISTRY["net"] = Net
        REGISTRY.update(other=Net)

        try:
            import torch
        except ImportError:
            torch = None

        if __name__ == "__main__":
            main_only = 1
        """,
    )
    kinds = [(s.kind, s.bound_names) for s in index.statements]
    assert kinds == [
        (StatementKind.IMPORT, ("np",)),
        (StatementKind.IMPORT, ("U",)),
        (StatementKind.IMPORT, ("Dense", "C")),
        (StatementKind.ASSIGNMENT, ("RATE",)),
        (StatementKind.OTHER, ("a", "b")),
        (StatementKind.CLASS, ("Net",)),
        (StatementKind.ASSIGNMENT, ("REGISTRY",)),
        (StatementKind.ASSIGNMENT, ()),
        (StatementKind.OTHER, ()),
        (StatementKind.OTHER, ("torch",)),
        (StatementKind.OTHER, ()),
    ]
    assert index.bindings["U"][0].import_item == ImportItem("pkg", "utils", "U")
    assert index.bindings["C"][0].import_item == ImportItem(
        "pkg.sub.layers", "Conv", "C"
    )
    assert index.mutations == {"REGISTRY": (7, 8)}
    assert "main_only" not in index.bindings
    rate = index.statements[3]
    assert (rate.first_line, rate.last_line) == (5, 6)
    assert (
        index.statement_text(rate) == "# A comment that belongs to RATE.\nRATE = 0.1\n"
    )
    net = index.statements[5]
    assert (net.first_line, net.last_line) == (10, 12)
    torch_bindings = index.bindings["torch"]
    assert [b.import_item for b in torch_bindings] == [ImportItem("torch"), None]


def test_star_imports_and_future_annotations(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        """\
        from __future__ import annotations
        from .helpers import *
        """,
    )
    assert index.future_annotations
    assert [(s.module, s.line) for s in index.star_imports] == [("pkg.sub.helpers", 2)]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SourceSyntaxError) as raised:
        index_of(tmp_path, "x = 1\ndef broken(:\n    pass\n")
    assert str(raised.value) == f"{tmp_path / 'mod.py'}:2: syntax error: invalid syntax"


@pytest.mark.parametrize(
    ("package", "module", "level", "expected"),
    [
        ("pkg.sub", "layers", 1, "pkg.sub.layers"),
        ("pkg.sub", None, 1, "pkg.sub"),
        ("pkg.sub", "utils", 2, "pkg.utils"),
        ("pkg.sub", None, 2, "pkg"),
        ("", "keras", 0, "keras"),
    ],
)
def test_absolute_module(
    package: str, module: str | None, level: int, expected: str
) -> None:
    assert absolute_module(package, module, level) == expected
