"""Layers that notebooks import from .py files, beside the ones their cells define."""
