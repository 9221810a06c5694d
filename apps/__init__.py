"""The apps, each a package that registers itself with apps/common (`apps.common.registry`) when imported: all
are imported with this package, so that apps/common alone loads a bundle of any of them."""

from apps import dinos, jazz, sentiment  # noqa: F401
