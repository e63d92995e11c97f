"""Functional and Sequential models built by factory functions from first-party parts."""

from graphnets.factories import (
    make_dict_model,
    make_multi_output,
    make_sequential,
    make_stacked,
    make_text_classifier,
)
from graphnets.models import Pair, Tower, Wrapper

__all__ = [
    "Pair",
    "Tower",
    "Wrapper",
    "make_dict_model",
    "make_multi_output",
    "make_sequential",
    "make_stacked",
    "make_text_classifier",
]
