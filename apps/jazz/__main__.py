import sys

from apps.jazz.cli import main

sys.exit(main(sys.argv[1:]))
