"""``python -m ecoae``: the same as the ``ecoae`` command."""

import sys

from ecoae.cli import main

if __name__ == "__main__":  # not in the inventory's worker processes, which import this module
    sys.exit(main())
