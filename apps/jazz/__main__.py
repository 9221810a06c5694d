"""`python -m apps.jazz`: see `apps.jazz.cli`."""

import sys

from apps.common.quiet import filter_startup_noise

filter_startup_noise()  # before anything imports TensorFlow

from apps.jazz.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
