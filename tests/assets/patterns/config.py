import dataclasses
import enum


@dataclasses.dataclass(frozen=True)
class NetConfig:
    units: int = 8
    depth: int = 2
    widths: tuple = dataclasses.field(default_factory=lambda: (1, 2))


class Mode(enum.Enum):
    SUM = "sum"
    MEAN = "mean"


DEFAULT_CONFIG = NetConfig()
