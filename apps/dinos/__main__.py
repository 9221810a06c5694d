import sys

from apps.dinos.cli import main

sys.exit(main(sys.argv[1:]))
