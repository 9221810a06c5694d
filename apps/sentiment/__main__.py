"""`python -m apps.sentiment`: see `apps.sentiment.cli`."""

import sys

from apps.common.quiet import filter_startup_noise

filter_startup_noise()  # before anything imports TensorFlow

from apps.sentiment.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
