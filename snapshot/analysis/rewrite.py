"""Give every extracted definition and import one name, and rewrite the code to use it.

All reached statements land in one module namespace. Each module-level name is
claimed in a fixed order (the generated module's own API, the model class,
imports, then definitions in emission order); a later claimant whose name is
taken gets a deterministic new one. Reads through first-party modules
(``layers_mod.Dense``) become plain names, and first-party imports disappear.
Attribute names are never touched, so Keras' weight paths stay the same.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import libcst as cst

from snapshot.analysis.collect import DependencyClosure, ExtractedStatement
from snapshot.analysis.cst_uses import analyse_statement
from snapshot.analysis.modules import Origin, classify
from snapshot.analysis.naming import (
    NameTable,
    identifiers_in,
    import_key,
    renamed_candidate,
)
from snapshot.analysis.resolution import Resolved
from snapshot.config import SnapshotConfig
from snapshot.model import ImportItem, NameUse, StatementKind, SymbolRef

#: Names the generated module defines for its users; model code never takes them.
RESERVED_NAMES = (
    "build_model",
    "load_model",
    "example_inputs",
    "check_weights_loaded",
    "compile_model",
    "check_optimizer_loaded",
    "MODEL_CLASS",
    "WEIGHTS_FILE",
    "ARRAYS",
    "ASSETS",
    "MODULE_STATE_FILE",
    "read_arrays",
    "load_assets",
    "restore_module_state",
)
#: Imports the generated module's own functions need.
SCAFFOLD_IMPORTS = (ImportItem("keras"), ImportItem("pathlib"), ImportItem("h5py"))

#: Packages whose ``register_keras_serializable`` the rewrite renames.
_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")
_ANY = ImportItem("typing", "Any")


@dataclass(frozen=True)
class Fragment:
    """One extracted statement, rewritten, with where it came from."""

    module: str
    first_line: int
    last_line: int
    code: str
    #: Position of the statement among its module's top-level statements.
    position: int = 0
    #: What the statement is (class, function, assignment...).
    kind: StatementKind = StatementKind.OTHER

    @property
    def origin(self) -> str:
        """``zoo.layers, lines 3-9``, or ``In[5], lines 1-7`` for a notebook cell."""
        return self.origin_through(self)

    def origin_through(self, last: Fragment) -> str:
        """Where this fragment and the following ones up to ``last`` came from."""
        where = self.module if self.cell is None else self.cell
        first_line = self.first_line - self.cell_offset
        last_line = last.last_line - last.cell_offset
        if first_line == last_line:
            return f"{where}, line {first_line}"
        return f"{where}, lines {first_line}-{last_line}"

    #: Original names of classes renamed here; Keras derives layer names from them.
    kept_class_names: tuple[tuple[str, str], ...] = ()
    #: Module-level names the statement binds, as in its original module.
    bound_names: tuple[str, ...] = ()
    #: Methods replaced by stubs because nothing reaches them.
    left_out: tuple[str, ...] = ()
    #: For session code: the cell's label, and what to subtract from the lines
    #: for the lines of the cell as written.
    cell: str | None = None
    cell_offset: int = 0


@dataclass(frozen=True)
class RewrittenSource:
    """The generated module's parts, ready to lay out."""

    future_annotations: bool
    #: Import statements, standard library first, each group sorted.
    stdlib_imports: tuple[str, ...]
    third_party_imports: tuple[str, ...]
    fragments: tuple[Fragment, ...]
    #: The model class's name in the generated module; None for a graph model.
    class_name: str | None
    #: Names bound to the scaffold imports (``keras``, ``pathlib``, ``h5py``).
    keras_name: str
    pathlib_name: str
    h5py_name: str
    #: The name given to every definition and import in the module.
    names: dict[SymbolRef | ImportItem | str, str]

    def name_of(self, key: SymbolRef | ImportItem) -> str:
        """The module-level name of a definition or an import."""
        return self.names[import_key(key) if isinstance(key, ImportItem) else key]


def rewrite(
    closure: DependencyClosure,
    *,
    config: SnapshotConfig,
    extra_imports: tuple[ImportItem, ...] = (),
    reserved: tuple[str, ...] = (),
) -> RewrittenSource:
    """Name everything in ``closure`` and produce the rewritten fragments.

    ``extra_imports`` are third-party names the model's constructor call uses;
    ``reserved`` are further names of the module's own (graph builders).
    """
    names = NameTable(identifiers_in([s.text for s in closure.statements]))
    for name in RESERVED_NAMES + reserved:
        names.claim(name, name)
    if closure.root is not None:
        names.claim(closure.root, closure.root.name)
    drops_annotations = any(
        resolved.dropped for s in closure.statements for resolved in s.resolutions
    )
    scaffold = SCAFFOLD_IMPORTS + ((_ANY,) if drops_annotations else ()) + extra_imports
    imports = _imports_used(closure, scaffold)
    for item in imports:
        names.claim(import_key(item), item.bound_name)
    any_name = names.name_of(_ANY) if drops_annotations else None
    for extracted in closure.statements:
        for bound in extracted.statement.bound_names:
            symbol = SymbolRef(extracted.statement.module, bound)
            names.claim(symbol, renamed_candidate(symbol))
    # Values stored instead of their code are made after it (see capture.module_state).
    for captured in closure.captured:
        names.claim(captured.symbol, renamed_candidate(captured.symbol))
    fragments = tuple(
        _rewrite_statement(extracted, names, any_name)
        for extracted in closure.statements
    )
    stdlib, third_party = _import_lines(imports, names, config=config)
    return RewrittenSource(
        future_annotations=closure.future_annotations,
        stdlib_imports=stdlib,
        third_party_imports=third_party,
        fragments=fragments,
        class_name=None if closure.root is None else names.name_of(closure.root),
        keras_name=names.name_of(import_key(SCAFFOLD_IMPORTS[0])),
        pathlib_name=names.name_of(import_key(SCAFFOLD_IMPORTS[1])),
        h5py_name=names.name_of(import_key(SCAFFOLD_IMPORTS[2])),
        names=names.assigned(),
    )


def _imports_used(
    closure: DependencyClosure, scaffold: tuple[ImportItem, ...]
) -> tuple[ImportItem, ...]:
    """Every third-party or stdlib import the extracted code reads, deduplicated."""
    used = dict.fromkeys(scaffold)
    for extracted in closure.statements:
        for resolved in extracted.resolutions:
            if resolved.import_item is not None:
                used[resolved.import_item] = None
    return tuple(
        sorted(
            used, key=lambda item: (item.obj is not None, item.module, item.obj or "")
        )
    )


def _import_lines(
    imports: tuple[ImportItem, ...], names: NameTable, *, config: SnapshotConfig
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    stdlib: list[str] = []
    third_party: list[str] = []
    from_imports: dict[str, list[str]] = {}
    for item in imports:
        bound = names.name_of(import_key(item))
        if item.obj is None:
            aliased = (
                item
                if item.alias is None and bound == item.bound_name
                else item.with_alias(bound)
            )
            line = aliased.source_statement
            group = (
                stdlib
                if classify(item.module, config=config) is Origin.STDLIB
                else third_party
            )
            group.append(line)
        else:
            part = item.obj if bound == item.obj else f"{item.obj} as {bound}"
            from_imports.setdefault(item.module, []).append(part)
    for module, parts in from_imports.items():
        line = f"from {module} import {', '.join(sorted(dict.fromkeys(parts)))}"
        group = (
            stdlib if classify(module, config=config) is Origin.STDLIB else third_party
        )
        group.append(line)
    return _sorted_imports(stdlib), _sorted_imports(third_party)


def _sorted_imports(lines: list[str]) -> tuple[str, ...]:
    """``import x`` lines first, then ``from x import y``, each alphabetical."""
    return tuple(sorted(set(lines), key=lambda line: (line.startswith("from "), line)))


def _rewrite_statement(
    extracted: ExtractedStatement, names: NameTable, any_name: str | None
) -> Fragment:
    statement = extracted.statement
    renamed_here = {
        name: names.name_of(SymbolRef(statement.module, name))
        for name in statement.bound_names
    }
    kept = tuple(
        (new, old)
        for old, new in renamed_here.items()
        if new != old and statement.kind is StatementKind.CLASS
    )
    unchanged = all(new == old for old, new in renamed_here.items()) and not any(
        _changes(use, resolved, names)
        for use, resolved in zip(extracted.uses, extracted.resolutions, strict=True)
    )
    if unchanged:
        # Most statements keep their text; only those whose names change go
        # through LibCST. Left-out methods are cut by line, which is exact.
        code = _with_stubs(extracted.text, set(extracted.dead_members)).strip("\n")
    else:
        code = _rewritten_code(extracted, names, any_name)
    return Fragment(
        module=statement.module,
        first_line=statement.first_line,
        last_line=statement.last_line,
        code=code,
        position=statement.index,
        kind=statement.kind,
        kept_class_names=kept,
        bound_names=statement.bound_names,
        left_out=extracted.dead_members,
        cell=statement.cell,
        cell_offset=statement.cell_offset,
    )


#: Decorators a stub keeps: they decide how the name is bound, not what it runs.
_KEPT_DECORATORS = {"staticmethod", "classmethod", "property"}


def _with_stubs(text: str, dead: set[str]) -> str:
    """``text`` (one class statement) with the ``dead`` methods replaced by stubs."""
    if not dead:
        return text
    tree = ast.parse(text)
    (klass,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    lines = text.splitlines(keepends=True)
    for method in reversed(klass.body):
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if method.name not in dead:
            continue
        first = min([method.lineno, *(d.lineno for d in method.decorator_list)])
        indent = " " * method.col_offset
        kept = [
            ast.get_source_segment(text, decorator)
            for decorator in method.decorator_list
            if (isinstance(decorator, ast.Name) and decorator.id in _KEPT_DECORATORS)
            or (
                isinstance(decorator, ast.Attribute)
                and decorator.attr in ("setter", "getter", "deleter")
            )
        ]
        stub = [f"{indent}@{decorator}\n" for decorator in kept]
        stub += [
            f"{indent}def {method.name}(*args, **kwargs):\n",
            f'{indent}    """{_STUB_DOCSTRING}"""\n',
            f"{indent}    raise NotImplementedError("
            f"{f'{klass.name}.{method.name} is not part of this snapshot'!r})\n",
        ]
        lines[first - 1 : method.end_lineno] = stub
    return "".join(lines)


_STUB_DOCSTRING = (
    "Left out of this snapshot: nothing that builds, calls, serializes or "
    "trains the model uses it."
)


def _changes(use: NameUse, resolved: Resolved, names: NameTable) -> bool:
    """True when the rewrite must change this read."""
    if resolved.dropped or resolved.consumed_attributes:
        return True
    if resolved.symbol is not None:
        return names.name_of(resolved.symbol) != use.name
    if resolved.import_item is not None:
        if _is_keras_registration(resolved.import_item, use.attributes):
            return True
        return names.name_of(import_key(resolved.import_item)) != use.name
    return False


def _rewritten_code(
    extracted: ExtractedStatement, names: NameTable, any_name: str | None
) -> str:
    statement = extracted.statement
    # Left-out methods are stubbed first, so LibCST never sees their code.
    text = _with_stubs(extracted.text, set(extracted.dead_members))
    analysis = analyse_statement(statement, text, path=statement.module)
    resolutions = extracted.resolutions_by_key()
    plan = _RewritePlan(any_name=any_name)
    for node, use in analysis.read_nodes:
        resolved = resolutions.get((use.name, use.attributes, use.in_annotation))
        if resolved is None:  # True/False/None: LibCST sees names, ast constants
            continue
        chain = analysis.attribute_chains.get(id(node), ())
        if resolved.dropped:
            plan.dropped.add(id(node))
            continue
        if resolved.import_item is not None and _is_keras_registration(
            resolved.import_item, use.attributes
        ):
            plan.registrations.add(id(chain[-1] if chain else node))
        if resolved.symbol is not None:
            new = names.name_of(resolved.symbol)
        elif resolved.import_item is not None:
            new = names.name_of(import_key(resolved.import_item))
        else:
            continue
        if isinstance(node, cst.SimpleString):
            if new != use.name:
                plan.string_renames[id(node)] = (use.name, new)
        elif resolved.consumed_attributes:
            plan.replacements[id(chain[resolved.consumed_attributes - 1])] = new
        elif new != use.name:
            plan.replacements[id(node)] = new
    for node in analysis.write_nodes:
        new = names.name_of(SymbolRef(statement.module, node.value))
        if new != node.value:
            plan.replacements[id(node)] = new
            plan.global_renames[node.value] = new
    tree = analysis.tree.visit(_StatementRewriter(plan))
    return tree.code.strip("\n")


def _is_keras_registration(item: ImportItem, attributes: tuple[str, ...]) -> bool:
    dotted = [*item.module.split("."), *([item.obj] if item.obj else []), *attributes]
    return dotted[0] in _KERAS_ROOTS and "register_keras_serializable" in dotted


@dataclass
class _RewritePlan:
    """What to change in one statement; nodes are named by ``id()``."""

    #: ``typing.Any``'s name, when some annotation is dropped.
    any_name: str | None
    #: Name or Attribute nodes to replace with the given plain name.
    replacements: dict[int, str] = field(default_factory=dict)
    #: String annotations in which one name is renamed.
    string_renames: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: Module-level names renamed, for ``global`` statements.
    global_renames: dict[str, str] = field(default_factory=dict)
    #: Nodes (names or strings) whose enclosing annotation becomes ``Any``.
    dropped: set[int] = field(default_factory=set)
    #: Callee nodes of ``register_keras_serializable(...)`` decorators.
    registrations: set[int] = field(default_factory=set)


class _StatementRewriter(cst.CSTTransformer):
    """Applies a :class:`_RewritePlan` to one statement's tree."""

    def __init__(self, plan: _RewritePlan) -> None:
        super().__init__()
        self.plan = plan
        #: One flag per open annotation: does it read a dropped name?
        self._annotations: list[bool] = []

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self._annotations.append(False)

    def leave_Annotation(
        self, original_node: cst.Annotation, updated_node: cst.Annotation
    ) -> cst.Annotation:
        if self._annotations.pop() and self.plan.any_name is not None:
            return updated_node.with_changes(annotation=cst.Name(self.plan.any_name))
        return updated_node

    def _note_dropped(self, node: cst.CSTNode) -> None:
        if id(node) in self.plan.dropped and self._annotations:
            self._annotations[-1] = True

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        self._note_dropped(original_node)
        new = self.plan.replacements.get(id(original_node))
        return updated_node.with_changes(value=new) if new is not None else updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        new = self.plan.replacements.get(id(original_node))
        if new is None:
            return updated_node
        return cst.Name(new, lpar=updated_node.lpar, rpar=updated_node.rpar)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        self._note_dropped(original_node)
        rename = self.plan.string_renames.get(id(original_node))
        if rename is None:
            return updated_node
        old, new = rename
        value = re.sub(rf"\b{re.escape(old)}\b", new, updated_node.value, count=1)
        return updated_node.with_changes(value=value)

    def leave_Global(
        self, original_node: cst.Global, updated_node: cst.Global
    ) -> cst.Global:
        # ``global X`` inside a function names a module-level binding.
        renames = self.plan.global_renames
        items = [
            (
                item.with_changes(
                    name=item.name.with_changes(value=renames[item.name.value])
                )
                if item.name.value in renames
                else item
            )
            for item in updated_node.names
        ]
        return updated_node.with_changes(names=items)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if id(original_node.func) not in self.plan.registrations:
            return updated_node
        return _with_snapshot_package(updated_node)


def _with_snapshot_package(call: cst.Call) -> cst.Call:
    """``register_keras_serializable(package="p")`` → ``package="p.snapshot"``.

    The generated module registers its classes under names of its own, so it can
    be imported beside the original code without either replacing the other's
    entries in Keras' global registry.
    """
    args = list(call.args)
    for position, arg in enumerate(args):
        is_package = (arg.keyword is None and position == 0) or (
            arg.keyword is not None and arg.keyword.value == "package"
        )
        if is_package:
            value: cst.BaseExpression = cst.BinaryOperation(
                left=arg.value,
                operator=cst.Add(),
                right=cst.SimpleString('".snapshot"'),
            )
            if isinstance(arg.value, cst.SimpleString):
                text = arg.value.evaluated_value
                if isinstance(text, str):
                    value = cst.SimpleString(repr(f"{text}.snapshot"))
            args[position] = arg.with_changes(value=value)
            return call.with_changes(args=args)
    package = cst.Arg(
        keyword=cst.Name("package"),
        value=cst.SimpleString('"Custom.snapshot"'),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""),
            whitespace_after=cst.SimpleWhitespace(""),
        ),
    )
    if args:
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
    return call.with_changes(args=[*args, package])
