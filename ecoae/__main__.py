"""``python -m ecoae``: the same as the ``ecoae`` command."""

import sys

from ecoae.cli import main

sys.exit(main())
