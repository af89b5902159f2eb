"""``python -m idxmap``: see :mod:`idxmap.cli`."""

import sys

from .cli import main

sys.exit(main())
