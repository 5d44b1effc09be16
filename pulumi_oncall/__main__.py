"""`python -m pulumi_oncall`: the command line (`pulumi_oncall.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
