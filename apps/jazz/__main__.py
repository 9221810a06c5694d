"""`python -m apps.jazz`: see `apps.jazz.cli`."""

from apps.common.quiet import run_app

run_app(__package__)
