"""`python -m service.cli ARGS`: the same as the `fragility` console script."""

import sys

from service.cli import app

if __name__ == "__main__":  # importing this module (e.g. to list the package's errors) runs nothing
    sys.exit(app())
