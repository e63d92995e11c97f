"""Lay the generated module out from Jinja2 templates; the templates decide nothing."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import jinja2

from snapshot.analysis.naming import snake_case
from snapshot.analysis.provenance import Provenance
from snapshot.analysis.rewrite import Fragment, RewrittenSource
from snapshot.capture import values
from snapshot.capture.graph import graph_class_name
from snapshot.capture.random_state import RANDOM_STATE_GROUP, RANDOM_STATE_PATH
from snapshot.capture.state import (
    CallSpecs,
    InputStructure,
    ModelState,
    SubmodelSpecs,
    TensorSpec,
)
from snapshot.config import SnapshotConfig
from snapshot.emit.graphs import builder_function
from snapshot.emit.spelling import reference_spelling
from snapshot.emit.state_code import StateCode, array_reader
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
    builders: tuple[values.Builder, ...] = (),
    stored: StateCode | None = None,
) -> RenderedSource:
    """Fill ``module.py.j2`` with the rewritten code and the model's recorded state.

    ``builders`` are the graph builders the model and module-level values
    call, nested ones first; ``stored`` is the code for state beyond the code
    and weights (stored arrays, assets, module-level objects), if any.
    """
    template = _environment().get_template("module.py.j2")
    text = template.render(
        **(stored or StateCode()).context(),
        target=target,
        version=__version__,
        future_annotations=rewritten.future_annotations,
        stdlib_imports=rewritten.stdlib_imports,
        third_party_imports=rewritten.third_party_imports,
        blocks=code_blocks(rewritten.fragments)
        + graph_blocks(builders, rewritten, config=config),
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
        build_call=build_call(state),
        random_state=state.random_state,
        random_state_group=RANDOM_STATE_GROUP,
        random_state_path=RANDOM_STATE_PATH,
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
    return values.render(
        state.constructor, reference_spelling(rewritten, config=config), array_reader
    )


def compile_arguments(
    state: ModelState, rewritten: RewrittenSource, *, config: SnapshotConfig
) -> str | None:
    """``optimizer=Adam(learning_rate=0.01), loss="mse"``; None for an uncompiled model."""
    if state.training is None:
        return None
    name_of = reference_spelling(rewritten, config=config)
    return ", ".join(
        f"{name}={values.render(value, name_of, array_reader)}"
        for name, value in state.training.keywords()
    )


def model_class_name(state: ModelState, rewritten: RewrittenSource) -> str:
    """``MyModel``, or ``keras.Model``/``keras.Sequential`` for a graph of Keras' own."""
    if rewritten.class_name is not None:
        return rewritten.class_name
    own = graph_class_name(state.constructor).removeprefix("keras.")
    return f"{rewritten.keras_name}.{own}"


def graph_blocks(
    builders: tuple[values.Builder, ...],
    rewritten: RewrittenSource,
    *,
    config: SnapshotConfig,
) -> tuple[CodeBlock, ...]:
    """A builder function for each Keras graph in ``builders``, in order."""
    module_names = set(rewritten.names.values())
    return tuple(
        CodeBlock(
            origin=f"The {builder.graph.kind} model {builder.graph.model_name!r}, "
            "written from its live graph",
            code=builder_function(
                builder.graph,
                name_of=reference_spelling(rewritten, config=config),
                module_names=module_names,
                keras_name=rewritten.keras_name,
            ),
        )
        for builder in builders
    )


def build_call(state: ModelState) -> str:
    """The statements that build the model by calling it on ``example_inputs()``."""
    if isinstance(state.inputs, CallSpecs):
        return "args, kwargs = example_inputs()\nmodel(*args, **kwargs)"
    if isinstance(state.inputs, SubmodelSpecs):
        assert isinstance(state.constructor, values.Call)  # a class without call()
        class_name = state.constructor.callee.name
        return (
            f"# {class_name} has no call(): each sub-model is built on its own inputs.\n"
            "for name, inputs in example_inputs().items():\n"
            "    getattr(model, name)(inputs)\n"
            "model.built = True"
        )
    return "model(example_inputs())"


def inputs_expression(specs: InputStructure, *, keras_name: str) -> str:
    """Code creating zero tensors with the structure, shapes and dtypes of ``specs``."""
    if isinstance(specs, SubmodelSpecs):
        return inputs_expression(dict(specs.submodels), keras_name=keras_name)
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
