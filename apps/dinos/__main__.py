"""`python -m apps.dinos`: see `apps.dinos.cli`."""

from apps.common.quiet import run_app

run_app(__package__)
