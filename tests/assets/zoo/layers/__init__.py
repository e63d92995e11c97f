from .dense import ScaledDense
from .encoder import Encoder as Encoder
