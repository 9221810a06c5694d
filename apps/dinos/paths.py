"""Default locations, anchored at the repository so that commands work from any directory."""

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO_ROOT / "saved_models" / "dinos"
DEFAULT_DATA = REPO_ROOT / "data" / "dinos.txt"
MANIFEST = REPO_ROOT / "data" / "dinos.json"
