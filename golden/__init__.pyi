from golden.api import tdd as tdd
from golden.api import validate as validate

__all__ = ["tdd", "validate"]
