"""A small multi-module model package used as a test fixture."""

from zoo.models.classifier import Classifier

__all__ = ["Classifier"]
