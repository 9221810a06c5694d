"""`python -m apps.dinos`: see `apps.dinos.cli`."""

import sys

from apps.common.quiet import filter_startup_noise

filter_startup_noise()  # before anything imports TensorFlow

from apps.dinos.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
