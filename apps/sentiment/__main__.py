"""`python -m apps.sentiment`: see `apps.sentiment.cli`."""

import sys

from apps.sentiment.cli import main

sys.exit(main(sys.argv[1:]))
