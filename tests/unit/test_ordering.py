"""Statement order: import-time needs first, then reading top-down, then source order."""

from __future__ import annotations

from snapshot.analysis.ordering import dependency_edges, import_order
from snapshot.analysis.resolution import Resolved
from snapshot.model import NameUse, SymbolRef


def test_hard_edges_always_hold_and_ties_go_to_module_then_position() -> None:
    keys = [("b", 0), ("a", 1), ("a", 0)]
    hard = {("b", 0): set(), ("a", 1): {("b", 0)}, ("a", 0): set()}
    soft = {key: set() for key in keys}
    assert import_order(keys, hard, soft) == [("a", 0), ("b", 0), ("a", 1)]


def test_soft_edges_hold_where_they_can() -> None:
    keys = [("m", 0), ("m", 1)]
    hard = {key: set() for key in keys}
    # ("m", 0) calls a function defined at ("m", 1) inside its body.
    soft = {("m", 0): {("m", 1)}, ("m", 1): set()}
    assert import_order(keys, hard, soft) == [("m", 1), ("m", 0)]
    # A soft cycle: source order.
    soft[("m", 1)] = {("m", 0)}
    assert import_order(keys, hard, soft) == [("m", 0), ("m", 1)]


def test_a_hard_cycle_falls_back_to_source_order() -> None:
    keys = [("m", 0), ("m", 1)]
    hard = {("m", 0): {("m", 1)}, ("m", 1): {("m", 0)}}
    soft = {key: set() for key in keys}
    assert import_order(keys, hard, soft) == [("m", 0), ("m", 1)]


def _read(
    name: str, *, at_import_time: bool, module: str = "m"
) -> tuple[NameUse, Resolved]:
    use = NameUse(name, (), 1, at_import_time)
    return use, Resolved(symbol=SymbolRef(module, name))


def test_edges_come_from_reads_and_from_statements_touching_one_name() -> None:
    statements_of = {
        SymbolRef("m", "Base"): (0,),
        SymbolRef("m", "helper"): (3,),
        SymbolRef("m", "REGISTRY"): (1, 2),
    }
    reads = {
        ("m", 0): (),
        ("m", 1): (),
        ("m", 2): (),
        # A class whose base is read at import time and whose method calls helper.
        ("m", 3): (),
        ("m", 4): (
            _read("Base", at_import_time=True),
            _read("helper", at_import_time=False),
        ),
    }
    hard, soft = dependency_edges(reads, statements_of)
    assert hard[("m", 4)] == {("m", 0)}
    assert soft[("m", 4)] == {("m", 3)}
    # The second statement changing REGISTRY runs after the one binding it.
    assert hard[("m", 2)] == {("m", 1)}


def test_a_read_of_a_name_rebound_later_in_its_own_module_needs_the_earlier_binding() -> (
    None
):
    statements_of = {SymbolRef("m", "X"): (0, 2)}
    reads = {("m", 0): (), ("m", 1): (_read("X", at_import_time=True),), ("m", 2): ()}
    hard, _ = dependency_edges(reads, statements_of)
    assert hard[("m", 1)] == {("m", 0)}
