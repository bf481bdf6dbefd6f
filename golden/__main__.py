"""``python -m golden``: the ``neuron-oracle`` command.

``-m`` puts the working folder first on ``sys.path``; it comes off before anything is imported from
there, using only ``sys`` and ``os``, which every interpreter has loaded before it runs a line of ours.
(A folder named ``golden`` in the working folder would be run instead of this one: ``neuron-oracle`` and
``python -P -m golden`` never look there.)
"""

import os
import sys

if __name__ == "__main__":
    _here = os.getcwd()
    _package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if (p and os.path.abspath(p) != _here) or p == _package_parent]
    from golden.cli import main

    sys.exit(main())
