"""Session code (notebook cells, ``python -c``) indexed as one module.

Cells are given as text, as IPython keeps them: magics already turned into
``get_ipython()`` calls. ``definitions`` say where the objects that count were
defined, as :mod:`snapshot.analysis.session` finds them from live code.
"""

from __future__ import annotations

import builtins
import hashlib
import linecache
import sys
import textwrap
from pathlib import Path

import pytest

from snapshot.analysis import session
from snapshot.analysis.parse import ModuleIndex, read_module
from snapshot.analysis.resolution import is_builtin
from snapshot.model import CodeCell, ModuleSource, SessionCode


def cell(count: int, text: str, *, first_line: int = 1) -> CodeCell:
    text = textwrap.dedent(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return CodeCell(f"In[{count}]", text, digest, count, first_line=first_line)


def index_of(
    *cells: CodeCell, definitions: tuple[tuple[str, int, int], ...] = ()
) -> ModuleIndex:
    code = SessionCode(tuple(cells), definitions)
    return read_module(ModuleSource("__main__", Path("<notebook>"), False, code))


def bound_in(index: ModuleIndex, name: str) -> list[str]:
    """Where the bindings of ``name`` kept in force are: ``In[n]:line``."""
    return [
        index.statements[binding.statement].location(
            index.statements[binding.statement].first_line
        )
        for binding in index.bindings[name]
    ]


def test_a_helper_re_run_with_edits_counts_in_its_latest_form() -> None:
    index = index_of(
        cell(1, "def helper(x):\n    return x\n"),
        cell(2, "UNITS = 4\n"),
        cell(3, "def helper(x):\n    return x * 2\n"),
    )
    assert bound_in(index, "helper") == ["In[3]:1"]
    text = index.statement_text(index.statements[index.bindings["helper"][0].statement])
    assert "x * 2" in text


def test_a_located_definition_wins_over_a_later_binding() -> None:
    # The model's class was made by cell 1; cell 3 defined the name again.
    index = index_of(
        cell(1, "class Net:\n    def call(self):\n        return 1\n"),
        cell(2, "x = 1\n"),
        cell(3, "class Net:\n    def call(self):\n        return 2\n"),
        definitions=(("Net", 0, 2),),
    )
    assert bound_in(index, "Net") == ["In[1]:1"]


def test_bindings_that_build_on_earlier_ones_keep_them() -> None:
    index = index_of(
        cell(1, "SIZES = [1]\n"),
        cell(2, "SIZES += [2]\nSIZES = SIZES + [3]\n"),
        cell(3, "RATE = 0.1\n"),
        cell(4, "RATE = 0.2\n"),
    )
    assert bound_in(index, "SIZES") == ["In[1]:1", "In[2]:1", "In[2]:2"]
    assert bound_in(index, "RATE") == ["In[4]:1"]


def test_changes_count_only_after_the_binding_in_force() -> None:
    index = index_of(
        cell(1, "REGISTRY = {}\nREGISTRY['a'] = 1\n"),
        cell(2, "REGISTRY = {}\n"),
        cell(3, "REGISTRY['b'] = 2\n"),
    )
    changes = [
        index.statements[i].location(index.statements[i].first_line)
        for i in index.mutations["REGISTRY"]
    ]
    assert bound_in(index, "REGISTRY") == ["In[2]:1"]
    assert changes == ["In[3]:1"]


def test_cells_that_do_not_parse_never_ran() -> None:
    index = index_of(cell(1, "def broken(:\n"), cell(2, "OK = 1\n"))
    assert "broken" not in index.bindings
    assert bound_in(index, "OK") == ["In[2]:1"]


def test_lines_of_a_magic_body_count_in_the_cell_as_written() -> None:
    # `%%time` was line 1 of cell 2; its body starts on line 2.
    index = index_of(
        cell(1, "# a comment\nA = 1\n"),
        cell(2, "def timed():\n    return A\n", first_line=2),
    )
    (binding,) = index.bindings["timed"]
    statement = index.statements[binding.statement]
    assert statement.location(statement.first_line) == "In[2]:2"
    assert index.location(statement.last_line) == ("In[2]", 3)
    # Comments above a statement never come from the cell before.
    assert bound_in(index, "A") == ["In[1]:1"]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["python", "-c", "X = 1"], "X = 1"),
        (["python", "-Ic", "X = 1", "out"], "X = 1"),
        (["python", "-cX = 1"], "X = 1"),
        (["python", "-W", "ignore", "-X", "importtime", "-c", "X = 1"], "X = 1"),
        (["python", "-Wignore", "-u", "-c", "X = 1"], "X = 1"),
        (["python", "--check-hash-based-pycs", "always", "-c", "X = 1"], "X = 1"),
        (["python", "-m", "tool", "-c", "X = 1"], None),
        (["python", "script.py", "-c", "X = 1"], None),
    ],
)
def test_code_of_python_dash_c(
    argv: list[str], code: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setattr(sys, "orig_argv", argv)
    assert session._command_line_code() == code


def test_a_cell_magic_that_runs_python_stands_for_its_body() -> None:
    text = "get_ipython().run_cell_magic('time', '', 'def f():\\n    return 1\\n')\n"
    assert session._cell_magic_call(text) == ("time", "def f():\n    return 1\n")
    assert session._cell_magic_call("get_ipython().system('ls')\n") is None


def test_definitions_inside_top_level_blocks_are_found() -> None:
    text = "if True:\n    def f():\n        pass\n\n@d\nclass C:\n    pass\n"
    assert session._top_level_definitions(text) == ((1, 3, "f"), (5, 7, "C"))


def test_what_ipython_adds_to_builtins_is_not_a_builtin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(builtins, "display", textwrap.dedent, raising=False)
    assert is_builtin("len") and is_builtin("open") and is_builtin("ValueError")
    assert not is_builtin("display")
    assert not is_builtin("get_ipython")


class _Kernel:
    """Runs cells the way IPython does: each compiled under its own file name,
    its text in ``linecache``, all in one ``__main__`` namespace."""

    def __init__(self) -> None:
        self.namespace: dict[str, object] = {"__name__": "__main__"}
        self.cells: list[CodeCell] = []
        self.counts: dict[str, int] = {}

    def run(self, text: str) -> str:
        count = len(self.cells) + 1
        text = textwrap.dedent(text)
        filename = f"/tmp/kernel_test/{count}.py"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        self.counts[filename] = count
        exec(compile(text, filename, "exec"), self.namespace)
        self.cells.append(cell(count, text))
        return filename

    def definitions(self, *held: object) -> dict[str, object]:
        found, elsewhere = session._definitions(
            tuple(self.cells), self.namespace, held, self.counts
        )
        return {
            **{name: self.cells[position].label for name, position, _ in found},
            **{name: where for name, where in elsewhere},
        }


def test_live_and_held_objects_are_found_in_their_cells() -> None:
    kernel = _Kernel()
    kernel.run(
        "def helper(x):\n    return x\n\nclass Net:\n    def call(self):\n        return helper(1)\n"
    )
    made = kernel.namespace["Net"]
    kernel.run("def helper(x):\n    return x * 2\n")
    kernel.run("class Net:\n    def call(self):\n        return 0\n")
    assert kernel.definitions() == {"helper": "In[2]", "Net": "In[3]"}
    # The model's class counts where it was made, though its name moved on.
    assert kernel.definitions(made) == {"helper": "In[2]", "Net": "In[1]"}


def test_cells_are_found_by_execution_count_when_linecache_was_cleared() -> None:
    kernel = _Kernel()
    filename = kernel.run("def helper(x):\n    return x\n")
    del linecache.cache[filename]
    assert kernel.definitions() == {"helper": "In[1]"}
    # Found nowhere, but bound by a cell: its last binding counts.
    kernel.counts.clear()
    assert kernel.definitions() == {}


def test_generated_methods_do_not_make_a_class_come_from_elsewhere() -> None:
    kernel = _Kernel()
    kernel.run(
        "import dataclasses\n\n@dataclasses.dataclass\nclass Config:\n    units: int = 2\n"
    )
    kernel.run('exec("def typed(x):\\n    return x\\n")\n')
    assert kernel.definitions() == {"typed": "<string>"}
