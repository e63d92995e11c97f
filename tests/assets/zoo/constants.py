import math

HIDDEN = 16
# Used by the gelu approximation.
GELU_COEF = math.sqrt(2 / math.pi)
SCALE = HIDDEN / 32
UNUSED_CONSTANT = "never extracted"
