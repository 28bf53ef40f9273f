"""`python -m service.cli ARGS`: the same as the `fragility` console script."""

import sys

from service.cli import app

sys.exit(app())
