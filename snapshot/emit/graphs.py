"""Graph builders as Python functions: one statement per layer call, then the model.

Each :class:`~snapshot.capture.graph.Graph` becomes ``def make_<model>():``
whose body reads as the code a person writes for a functional or Sequential
model. Local names come from layer names; one that would hide a module-level
name of the generated module gets a trailing underscore.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from snapshot.capture import values
from snapshot.capture.graph import Graph


def builder_function(
    graph: Graph,
    *,
    name_of: Callable[[values.Ref], str],
    module_names: Collection[str],
    keras_name: str,
) -> str:
    """The source of ``graph``'s builder function (black formats it later)."""
    local_names = _local_names(graph, avoid=set(module_names))

    def local_of(name: str) -> str:
        return local_names.get(name, name)

    def code(expression: values.Expression) -> str:
        return values.render(expression, name_of, local_of=local_of)

    lines = [f"def {graph.function}():", f'    """{_docstring(graph)}"""']
    for step in graph.steps:
        value = code(step.value)
        if step.flatten:
            value = f"{keras_name}.tree.flatten({value})"
        targets = ", ".join(local_of(target) for target in step.targets)
        lines.append(f"    {targets} = {value}")
    lines.append(f"    return {code(graph.result)}")
    return "\n".join(lines)


def _docstring(graph: Graph) -> str:
    text = f"The {graph.kind} model {graph.model_name!r}, as its graph was saved."
    if graph.from_config:
        layers = ", ".join(repr(name) for name in graph.from_config)
        text += (
            f"\n\n    Written from their Keras config (no constructor call was "
            f"recorded): {layers}.\n    "
        )
    return text


def _local_names(graph: Graph, *, avoid: set[str]) -> dict[str, str]:
    """Each local name of ``graph``, or its replacement where a module name has it."""
    taken = {target for step in graph.steps for target in step.targets}
    found: dict[str, str] = {}
    for name in sorted(taken & avoid):
        replacement = f"{name}_"
        while replacement in avoid or replacement in taken:
            replacement += "_"
        taken.add(replacement)
        found[name] = replacement
    return found
