"""A model trained with its own loss, metric and learning-rate schedule (test fixture)."""

from fitted.losses import ScaledSquaredError, huberish
from fitted.metrics import WithinTolerance
from fitted.model import NoisyRegressor, Regressor
from fitted.schedules import WarmupThenDecay

__all__ = [
    "NoisyRegressor",
    "Regressor",
    "ScaledSquaredError",
    "WarmupThenDecay",
    "WithinTolerance",
    "huberish",
]
