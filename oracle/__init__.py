"""The independent reference: exact, standard-library-only backpropagation for one neuron.

``create_backprop_test_case`` computes every intermediate exactly (see ``oracle.exact`` for how numbers
are read and in which arithmetic); ``CASES`` holds the named golden cases, one function each.

The case API
------------
``case`` and ``create_backprop_test_case`` are public and stable: a case file of your own (any Python
file; ``neuron-oracle regen --case-file my_cases.py --golden tests/golden``) defines its cases with them
exactly as ``oracle/cases.py`` defines the bundled ones::

    import csv
    from pathlib import Path

    from oracle import Result, case, create_backprop_test_case

    @case("z < 0, so da_dz is alpha", lambda r: r.first.da_dz[0] == r.inputs.alpha)
    def negative_z() -> Result:
        '''One row on the leaky branch, its inputs as numbers and decimal strings.'''
        return create_backprop_test_case([[1, "-2.5"]], 1.5, [0.3, 0.4], 0.1, "0.01", alpha="0.2")

    @case("the loss falls", lambda r: r.steps[-1].loss < r.first.loss)
    def from_my_data() -> Result:
        '''Five steps on the rows of rows.csv, beside this file: x1, x2, y as decimal text.'''
        with open(Path(__file__).with_name("rows.csv"), newline="") as f:
            rows = list(csv.reader(f))
        X, y = [row[:-1] for row in rows], [row[-1] for row in rows]
        return create_backprop_test_case(X, y, [0, 0], 0, "0.01", steps=5)

A case is a function named as its golden file (lower-case letters, digits and ``_``), whose docstring
says what it shows; the decorator's claim says what must hold and its check decides it on the exact
``Result``, or the case is refused (``ClaimError``). Inputs are numbers, decimal strings (read exactly),
or read by the function from a file beside it (a ``.npy`` with numpy: pass ``array.tolist()``). Any
activation of ``ACTIVATIONS``, alpha, learning rate and number of steps. Each case file has a registry
of its own (``oracle.registry.collecting``), so its cases never join ``CASES`` and may share their names.
"""

import oracle.cases  # noqa: F401  the bundled cases, registered into CASES
from oracle.backprop import LOSS, Inputs, Result, Step
from oracle.exact import ACTIVATIONS, to_float
from oracle.registry import CASES, Case, ClaimError, case, create_backprop_test_case

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
    "case",
    "create_backprop_test_case",
    "to_float",
]
