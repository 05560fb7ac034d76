"""``python -m charzoo``: the command line (see :mod:`charzoo.cli`)."""

import sys

from charzoo.cli import main

sys.exit(main())
