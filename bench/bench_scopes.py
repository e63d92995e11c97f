"""Name analysis: ast + symtable against LibCST's ScopeProvider, on Keras' own code.

Run: python bench/bench_scopes.py [--repeat N] [--package keras.src.layers]

For every top-level statement of every module under the package (Keras'
layers by default: real code nobody here wrote), it asks both analyzers which
module-level names the statement reads (name, attribute chain, line, whether
it runs at import time, annotation or not) and counts the statements on which
they agree. It times, cold (nothing cached, each repeat from the source text):
  fast        snapshot's analyzer: ast + symtable, per statement
  libcst      LibCST ScopeProvider on each statement parsed on its own (what
              the pipeline uses for the statements it rewrites)
  libcst/mod  LibCST ScopeProvider on each whole module (the textbook way)
Medians of N repeats, seconds; ratios are libcst time over fast time.
"""

from __future__ import annotations

import argparse
import dataclasses

import libcst as cst
from libcst.metadata import MetadataWrapper, ScopeProvider
from timing import median_seconds

from snapshot.analysis.cst_uses import analyse_statement
from snapshot.analysis.modules import find_module
from snapshot.analysis.parse import ModuleIndex, _read_module
from snapshot.analysis.scopes import find_uses
from snapshot.model import ModuleSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--package", default="keras.src.layers")
    args = parser.parse_args()
    indexes = _indexes(args.package)
    statements = sum(len(index.statements) for index in indexes)
    agree, differ = _compare(indexes)
    fast = median_seconds(lambda: _fast(indexes), args.repeat)
    per_statement = median_seconds(lambda: _libcst_per_statement(indexes), args.repeat)
    per_module = median_seconds(lambda: _libcst_per_module(indexes), args.repeat)
    lines = sum(index.text.count("\n") for index in indexes)
    print(
        f"{args.package}: {len(indexes)} modules, {lines} lines, {statements} statements"
    )
    print(f"identical answers on {agree} of {agree + len(differ)} statements")
    for where in differ[:10]:
        print(f"  differs: {where}")
    print(f"{'analyzer':<12}{'seconds':>9}{'ratio':>7}")
    print(f"{'fast':<12}{fast:>9.3f}{1.0:>7.1f}")
    print(f"{'libcst':<12}{per_statement:>9.3f}{per_statement / fast:>7.1f}")
    print(f"{'libcst/mod':<12}{per_module:>9.3f}{per_module / fast:>7.1f}")


def _indexes(package: str) -> list[ModuleIndex]:
    # Found without importing it: importing keras would start TensorFlow.
    source = find_module(package)
    assert source is not None and source.is_package, package
    root = source.path.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join([package, *(parts[:-1] if is_package else parts)])
        source = ModuleSource(name, path, is_package)
        stat = path.stat()
        found.append(_read_module.__wrapped__(source, stat.st_mtime_ns, stat.st_size))
    return found


def _compare(indexes: list[ModuleIndex]) -> tuple[int, list[str]]:
    agree, differ = 0, []
    for index in indexes:
        path = str(index.source.path)
        for statement in index.statements:
            text = index.statement_text(statement)
            # Only the fast analyzer tracks the method a read sits in, and
            # LibCST sees True/False/None as names where ast sees constants.
            fast = sorted(
                (
                    dataclasses.replace(use, member=None)
                    for use in find_uses(statement, text, path=path).uses
                ),
                key=repr,
            )
            slow = sorted(
                (
                    use
                    for use in analyse_statement(statement, text, path=path).uses
                    if use.name not in ("True", "False", "None")
                ),
                key=repr,
            )
            if fast == slow:
                agree += 1
            else:
                differ.append(str(statement))
    return agree, differ


def _fast(indexes: list[ModuleIndex]) -> None:
    for index in indexes:
        for statement in index.statements:
            # From the text, as the LibCST runs do: no ast nodes handed over.
            find_uses(statement, index.statement_text(statement), path="")


def _libcst_per_statement(indexes: list[ModuleIndex]) -> None:
    for index in indexes:
        for statement in index.statements:
            analyse_statement(statement, index.statement_text(statement), path="")


def _libcst_per_module(indexes: list[ModuleIndex]) -> None:
    for index in indexes:
        MetadataWrapper(cst.parse_module(index.text)).resolve(ScopeProvider)


if __name__ == "__main__":
    main()
