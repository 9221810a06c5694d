"""`python -m apps.studio`: see `apps.studio.cli`."""

from apps.common.quiet import run_app

run_app(__package__)
