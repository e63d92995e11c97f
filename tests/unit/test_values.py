"""Constructor arguments written as Python code."""

from __future__ import annotations

import dataclasses
import enum

import numpy as np
import pytest

from snapshot.capture.values import (
    Apply,
    Call,
    Literal,
    Local,
    Mapping,
    Member,
    Ref,
    Sequence,
    describe,
    keras_path,
    references,
    render,
)
from snapshot.errors import ModelStateError


class Mode(enum.Enum):
    SUM = "sum"


@dataclasses.dataclass(frozen=True)
class Settings:
    units: int = 8
    mode: Mode = Mode.SUM


def _spell(ref: Ref) -> str:
    return ref.name


def test_every_kind_of_expression_renders_as_code() -> None:
    expression = Call(
        Ref("pkg", "Net"),
        (Literal(1),),
        (
            ("rates", Sequence("tuple", (Literal(0.5),))),
            ("sizes", Sequence("list", (Literal(1), Literal(2)))),
            ("table", Mapping(((Literal("a"), Member(Ref("pkg", "Mode"), "SUM")),))),
            ("not-an-identifier", Literal(None)),
        ),
    )
    assert render(expression, _spell) == (
        "Net(1, rates=(0.5,), sizes=[1, 2], table={'a': Mode.SUM}, "
        "**{'not-an-identifier': None})"
    )
    assert render(
        Call(Ref("keras.initializers", "Zeros"), method="from_config"), _spell
    ) == ("Zeros.from_config()")


def test_rendered_values_evaluate_to_equal_values() -> None:
    value = {
        "settings": Settings(units=3),
        "shape": (2, 3),
        "nested": [1.5, float("inf"), float("nan"), None, True, "x", b"y"],
        "array": np.arange(6, dtype="int16").reshape(2, 3),
    }
    expression = describe(value, where="test")
    namespace = {"Settings": Settings, "Mode": Mode, "numpy": np, "float": float}
    rebuilt = eval(
        render(expression, _spell).replace("array(", "numpy.array("), namespace
    )
    assert rebuilt["settings"] == value["settings"]
    assert rebuilt["shape"] == (2, 3)
    assert rebuilt["nested"][0] == 1.5 and rebuilt["nested"][1] == float("inf")
    assert rebuilt["nested"][2] != rebuilt["nested"][2]  # nan
    assert rebuilt["nested"][3:] == [None, True, "x", b"y"]
    np.testing.assert_array_equal(rebuilt["array"], value["array"])
    assert rebuilt["array"].dtype == np.int16


def test_references_lists_each_named_definition_once_in_order() -> None:
    expression = describe([Settings(), Settings(), Mode.SUM], where="test")
    assert [ref.name for ref in references(expression)] == ["Settings", "Mode"]


def test_values_that_are_not_code_are_refused_naming_the_argument() -> None:
    with pytest.raises(ModelStateError) as raised:
        describe(object(), where="constructor argument 'thing'")
    assert str(raised.value).startswith("constructor argument 'thing' is a object")
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ModelStateError, match="contains itself"):
        describe(looped, where="x")


def test_layer_calls_render_with_local_names() -> None:
    dense = Call(Ref("keras.layers", "Dense"), (Literal(4),), (("name", Literal("d")),))
    call = Apply(dense, (Sequence("list", (Local("a"), Local("b"))),))
    spelled = render(call, _spell, local_of=lambda name: name.upper())
    assert spelled == 'Dense(4, name="d")([A, B])'.replace('"', "'")
    assert references(call) == [Ref("keras.layers", "Dense")]


def test_keras_public_names_are_spelled_through_keras() -> None:
    assert keras_path(Ref("keras.layers", "Dense")) == ("layers", "Dense")
    assert keras_path(Ref("keras", "Input")) == ("Input",)
    assert keras_path(Ref("keras.src.layers", "Dense")) is None
    assert keras_path(Ref("mypkg.layers", "Dense")) is None
