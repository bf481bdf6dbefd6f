"""``python -m golden``: the ``neuron-oracle`` command."""

import sys

from golden.harness.launch import forget_working_folder

if __name__ == "__main__":
    forget_working_folder()  # `-m` put the working folder first on sys.path: no module comes from there
    from golden.cli import main

    sys.exit(main())
