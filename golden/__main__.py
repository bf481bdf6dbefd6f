"""``python -m golden``: the ``neuron-oracle`` command."""

import sys

from golden.cli import main

sys.exit(main())
