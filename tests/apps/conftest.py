"""How pytest-xdist (`pytest -n 2 --dist loadgroup`, as CI runs) shares the app tests out among its workers.

Each worker is a process of its own, so a fixture shared by many tests is computed once per worker that runs
one of them. The session bundles of dinos and sentiment (a model trained through the CLI; exports) and the
module fixtures (a model per test file) would be trained twice: each app folder of session bundles goes to one
worker whole, every other test file to one worker. (The layer tests share nothing: they go out one by one.)
Those two folders go out first: xdist hands out groups in collection order, and the longest ones last would
leave one worker training while the other waits.
"""

import os

import pytest

SESSION_BUNDLES = ("dinos", "sentiment")
"""The app folders whose conftest.py trains session fixtures that several test files use."""


def pytest_collection_modifyitems(config, items):
    if config.getoption("dist", "no") == "no":
        return  # not distributed: the marker would mean nothing (and is unknown without pytest-xdist)
    here = os.path.dirname(os.path.abspath(__file__))
    groups = {}
    for item in items:
        path = os.path.relpath(str(item.path), here)
        if path.startswith(".."):
            continue  # not an app test
        folder = path.split(os.sep)[0]
        groups[item] = folder if folder in SESSION_BUNDLES else path
        item.add_marker(pytest.mark.xdist_group(groups[item]))
    items.sort(key=lambda item: groups.get(item) not in SESSION_BUNDLES)
