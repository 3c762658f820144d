"""``python -m rig`` runs the same command line as ``stairrig``."""

import sys

from rig.cli import main

sys.exit(main())
