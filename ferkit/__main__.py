"""``python -m ferkit``: the command line."""

import sys

from ferkit.cli import main

sys.exit(main())
