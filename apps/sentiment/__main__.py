"""`python -m apps.sentiment`: see `apps.sentiment.cli`."""

from apps.common.quiet import run_app

run_app(__package__)
