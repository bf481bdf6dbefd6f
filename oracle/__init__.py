"""The independent reference: exact, standard-library-only backpropagation for one neuron.

``create_backprop_test_case`` computes every intermediate exactly (see ``oracle.exact`` for how numbers
are read and in which arithmetic); ``CASES`` holds the named golden cases, one function each.
"""

from oracle.backprop import LOSS, Inputs, Result, Step, create_backprop_test_case
from oracle.cases import CASES, Case, ClaimError
from oracle.exact import ACTIVATIONS, to_float

# 3: a trajectory's bounds follow gradient descent's contraction (oracle.bounds.trajectory); golden v2 was
# made by 2 (exact values carry error bounds), golden v1 by 1
ORACLE_VERSION = "3"

__all__ = [
    "ACTIVATIONS",
    "CASES",
    "LOSS",
    "ORACLE_VERSION",
    "Case",
    "ClaimError",
    "Inputs",
    "Result",
    "Step",
    "create_backprop_test_case",
    "to_float",
]
