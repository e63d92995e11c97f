"""Lay the generated module out from Jinja2 templates; the templates decide nothing."""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from snapshot.analysis.naming import snake_case
from snapshot.analysis.provenance import Provenance
from snapshot.analysis.rewrite import Fragment, RewrittenSource
from snapshot.capture import values
from snapshot.capture.graph import graph_class_name
from snapshot.capture.state import CallSpecs, InputStructure, ModelState, TensorSpec
from snapshot.config import SnapshotConfig
from snapshot.emit.graphs import builder_function
from snapshot.model import StatementKind
from snapshot.version import __version__


@dataclass(frozen=True)
class RenderedSource:
    """The generated module's text before formatting."""

    text: str


def render_module(
    rewritten: RewrittenSource,
    state: ModelState,
    provenance: Provenance,
    *,
    target: str,
    weights_file: str,
    config: SnapshotConfig,
) -> RenderedSource:
    """Fill ``module.py.j2`` with the rewritten code and the model's recorded state."""
    template = _environment().get_template("module.py.j2")
    text = template.render(
        target=target,
        version=__version__,
        future_annotations=rewritten.future_annotations,
        stdlib_imports=rewritten.stdlib_imports,
        third_party_imports=rewritten.third_party_imports,
        blocks=code_blocks(rewritten.fragments)
        + graph_blocks(state, rewritten, config=config),
        provenance=provenance,
        class_name=model_class_name(state, rewritten),
        pathlib_name=rewritten.pathlib_name,
        h5py_name=rewritten.h5py_name,
        keras_name=rewritten.keras_name,
        weights_file=weights_file,
        inputs_expression=inputs_expression(
            state.inputs, keras_name=rewritten.keras_name
        ),
        constructor_call=constructor_call(state, rewritten, config=config),
        compile_arguments=compile_arguments(state, rewritten, config=config),
        optimizer_built=state.training is not None and state.training.optimizer_built,
        # Layers take the global policy when they are made; float32 is Keras' default.
        dtype_policy=None if state.dtype_policy == "float32" else state.dtype_policy,
        build_call=(
            "args, kwargs = example_inputs()\n    model(*args, **kwargs)"
            if isinstance(state.inputs, CallSpecs)
            else "model(example_inputs())"
        ),
    )
    return RenderedSource(text)


@dataclass(frozen=True)
class CodeBlock:
    """Statements taken from one place, under one provenance comment."""

    #: ``zoo.constants, lines 3-14``.
    origin: str
    code: str


def code_blocks(fragments: tuple[Fragment, ...]) -> tuple[CodeBlock, ...]:
    """Fragments in emission order; runs of statements adjacent in one file grouped.

    Twelve constants of one module read as the twelve lines they were, under
    one comment, not as twelve blocks of four lines. Classes and functions keep
    a comment each, so every definition names its lines.
    """
    groups: list[list[Fragment]] = []
    for fragment in fragments:
        previous = groups[-1][-1] if groups else None
        if (
            previous is not None
            and previous.module == fragment.module
            and previous.cell == fragment.cell
            and previous.position + 1 == fragment.position
            and not _is_definition(previous)
            and not _is_definition(fragment)
        ):
            groups[-1].append(fragment)
        else:
            groups.append([fragment])
    return tuple(
        CodeBlock(
            origin=group[0].origin_through(group[-1]),
            code="\n".join(_with_kept_names(fragment) for fragment in group),
        )
        for group in groups
    )


def _is_definition(fragment: Fragment) -> bool:
    return fragment.kind in (StatementKind.CLASS, StatementKind.FUNCTION)


def _with_kept_names(fragment: Fragment) -> str:
    """The fragment's code, then what keeps a renamed class's own name for Keras."""
    lines = [fragment.code]
    for new_name, old_name in fragment.kept_class_names:
        lines.append(f"{new_name}.__name__ = {old_name!r}")
        lines.append(f"{new_name}.__qualname__ = {old_name!r}")
    return "\n".join(lines)


def constructor_call(
    state: ModelState, rewritten: RewrittenSource, *, config: SnapshotConfig
) -> str:
    """``MyModel(units=32)``: the model's construction as Python code."""
    return values.render(state.constructor, _name_of(rewritten, config=config))


def _name_of(
    rewritten: RewrittenSource, *, config: SnapshotConfig
) -> Callable[[values.Ref], str]:
    """How the module spells a class or function: ``keras.layers.Dense``, ``MyLayer``."""

    def name_of(ref: values.Ref) -> str:
        path = values.keras_path(ref)
        if path is not None:
            return ".".join((rewritten.keras_name, *path))
        key = values.reference_key(ref, config=config)
        return ref.name if key is None else rewritten.name_of(key)

    return name_of


def compile_arguments(
    state: ModelState, rewritten: RewrittenSource, *, config: SnapshotConfig
) -> str | None:
    """``optimizer=Adam(learning_rate=0.01), loss="mse"``; None for an uncompiled model."""
    if state.training is None:
        return None
    name_of = _name_of(rewritten, config=config)
    return ", ".join(
        f"{name}={values.render(value, name_of)}"
        for name, value in state.training.keywords()
    )


def model_class_name(state: ModelState, rewritten: RewrittenSource) -> str:
    """``MyModel``, or ``keras.Model``/``keras.Sequential`` for a graph of Keras' own."""
    if rewritten.class_name is not None:
        return rewritten.class_name
    own = graph_class_name(state.constructor).removeprefix("keras.")
    return f"{rewritten.keras_name}.{own}"


def graph_blocks(
    state: ModelState, rewritten: RewrittenSource, *, config: SnapshotConfig
) -> tuple[CodeBlock, ...]:
    """A builder function for each Keras graph the model is made of, nested ones first."""
    module_names = set(rewritten.names.values())
    return tuple(
        CodeBlock(
            origin=f"The {builder.graph.kind} model {builder.graph.model_name!r}, "
            "written from its live graph",
            code=builder_function(
                builder.graph,
                name_of=_name_of(rewritten, config=config),
                module_names=module_names,
                keras_name=rewritten.keras_name,
            ),
        )
        for builder in values.builders(state.constructor)
    )


def inputs_expression(specs: InputStructure, *, keras_name: str) -> str:
    """Code creating zero tensors with the structure, shapes and dtypes of ``specs``."""
    if isinstance(specs, TensorSpec):
        if _is_text(specs.dtype):
            # keras.ops.zeros makes no strings; a nested list of "" converts.
            empty = '""'
            for size in reversed(specs.shape):
                empty = f"[{empty}] * {size}"
            return f"{keras_name}.ops.convert_to_tensor({empty})"
        return f"{keras_name}.ops.zeros({specs.shape!r}, dtype={specs.dtype!r})"
    if isinstance(specs, CallSpecs):
        # (positional arguments, keyword arguments)
        positional = inputs_expression(tuple(specs.args), keras_name=keras_name)
        keywords = inputs_expression(dict(specs.kwargs), keras_name=keras_name)
        return f"({positional}, {keywords})"
    if isinstance(specs, dict):
        items = ", ".join(
            f"{key!r}: {inputs_expression(value, keras_name=keras_name)}"
            for key, value in specs.items()
        )
        return f"{{{items}}}"
    elements = [inputs_expression(value, keras_name=keras_name) for value in specs]
    if isinstance(specs, tuple):
        return (
            f"({', '.join(elements)},)"
            if len(elements) == 1
            else f"({', '.join(elements)})"
        )
    return f"[{', '.join(elements)}]"


def _is_text(dtype: str) -> bool:
    """True for string dtypes: Keras' ``string``, numpy's ``<U3``, ``|S5`` or ``object``."""
    return dtype in ("string", "object", "str") or dtype.lstrip("<>|=")[:1] in (
        "U",
        "S",
    )


def module_file_name(class_name: str) -> str:
    """``MyModel`` → ``my_model_snapshot.py``; ``ViTDistilled`` → ``vit_distilled_snapshot.py``."""
    return f"{snake_case(class_name)}_snapshot.py"


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_folder())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    environment.filters["pyrepr"] = repr
    return environment


def _templates_folder() -> Path:
    """``snapshot/templates`` in an installed wheel, ``templates/`` in a checkout."""
    installed = Path(str(importlib.resources.files("snapshot"))) / "templates"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise RuntimeError(
        f"keras-snapshot is installed without its templates (looked in {installed})"
    )
