"""``python -m inferencekey``: the same command as ``inferencekey``."""

import sys

from .cli import main

sys.exit(main())
