"""Counts the statements (`ast.stmt` nodes) under a folder, so that two versions of the code compare by what
they do rather than by how they are wrapped.

    python benchmarks/statements.py apps                           # this tree
    python benchmarks/statements.py apps --ref cd03624 --ref HEAD  # committed versions, formatted alike first

With `--ref`, each commit's folder is exported (`git archive`) to a scratch directory and formatted there with
`ruff format` and this repository's settings before counting, so that both sides are formatted the same way.
"""

import argparse
import ast
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def count_statements(folder):
    """The number of `ast.stmt` nodes in the `.py` files under `folder`."""
    return sum(
        isinstance(node, ast.stmt)
        for path in sorted(pathlib.Path(folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    )


def count_at(ref, folder):
    """`count_statements` of `folder` as committed at `ref`, after `ruff format` with the repository's settings."""
    with tempfile.TemporaryDirectory() as scratch:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, folder], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
        shutil.copy(ROOT / "pyproject.toml", scratch)
        ruff = shutil.which("ruff") or os.path.join(os.path.dirname(sys.executable), "ruff")
        subprocess.run([ruff, "format", "--quiet", os.path.join(scratch, folder)], check=True, cwd=scratch)
        return count_statements(os.path.join(scratch, folder))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder relative to the repository root, e.g. apps")
    parser.add_argument("--ref", action="append", help="a git commit to count at (repeatable)")
    args = parser.parse_args(argv)
    if not args.ref:
        print(f"{args.folder}: {count_statements(ROOT / args.folder)} statements")
    for ref in args.ref or ():
        print(f"{args.folder} at {ref}: {count_at(ref, args.folder)} statements (ruff-formatted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
