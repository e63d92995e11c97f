"""Fixture: the code patterns of a real model package, one per module."""

from . import extra_blocks  # noqa: F401  (registers a block)
from .models import PatternNet

__all__ = ["PatternNet"]
