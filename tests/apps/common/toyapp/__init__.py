"""A fourth app, for tests only: it lives outside `apps/` and registers itself as the apps do (test_registry.py)."""

from apps.common.registry import register

register("toy", __name__)
