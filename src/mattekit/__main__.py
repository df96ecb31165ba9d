"""``python -m mattekit`` (and ``torchrun -m mattekit``) runs the command line."""

import sys

from mattekit.cli import main

sys.exit(main())
