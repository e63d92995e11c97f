# A chained re-export: patterns -> patterns.models -> patterns.models.net
from patterns.models.net import PatternNet
