"""``python -m golden``: the ``neuron-oracle`` command."""

import sys

from golden.cli import main

if __name__ == "__main__":  # guarded: the validate worker's spawned process imports this module
    sys.exit(main())
