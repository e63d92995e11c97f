"""Fixture: the code patterns of a real model package, one per module."""

from .models import PatternNet

__all__ = ["PatternNet"]
