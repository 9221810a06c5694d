"""Cold answers: each command in a fresh process, beside `python -c "import tensorflow"` in the same rounds.

Every round runs, in turn and each in a new Python process (files already in the OS cache after a first,
untimed round), `python -c "import tensorflow"` and each command below on both runtimes (`--runtime litert`,
`--runtime keras`); the table gives each one's median wall time over the rounds and its ratio to the import's
median. The goal: `sample` and `predict` at most 0.5 of the import on LiteRT, `generate` (which also imports
music21) at most 0.6.

Usage:

    python benchmarks/coldstart.py [--rounds 5] [--commands sample predict generate]

Prints a Markdown table and writes benchmarks/results/coldstart.json.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

COMMANDS = {
    "sample": ["-m", "apps.dinos", "sample", "-n", "5", "--seed", "1"],
    "score": ["-m", "apps.dinos", "score", "trex", "stegosaurus"],
    "predict": ["-m", "apps.sentiment", "predict", "ok"],
    "generate": ["-m", "apps.jazz", "generate", "--seed", "1", "--force", "--out", "{tmp}/solo.mid"],
}
"""The commands timed, as `python` arguments (`{tmp}`: a scratch directory); `generate` is a 12-bar solo."""


def timed(arguments):
    """Wall seconds of `python ARGUMENTS` in a fresh process, from the repository root; fails on a non-zero exit."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *arguments], check=False, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"python {' '.join(arguments)} failed:\n{done.stderr.decode(errors='replace')}")
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default: %(default)s)")
    parser.add_argument("--commands", nargs="+", choices=sorted(COMMANDS), default=["sample", "predict", "generate"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "coldstart.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"import tensorflow": ["-c", "import tensorflow"]}
        for name in args.commands:
            command = [part.format(tmp=tmp) for part in COMMANDS[name]]
            for runtime in ("litert", "keras"):
                runs[f"{name} ({runtime})"] = [*command, "--runtime", runtime]
        times = {label: [] for label in runs}
        for round_ in range(args.rounds + 1):  # the first round fills the OS cache and is not counted
            for label, arguments in runs.items():
                seconds = timed(arguments)
                if round_:
                    times[label].append(seconds)
    base = statistics.median(times["import tensorflow"])
    rows = [
        {"run": label, "median_s": statistics.median(values), "ratio_to_import": statistics.median(values) / base}
        for label, values in times.items()
    ]
    print(f"| command (cold, median of {args.rounds}) | seconds | ratio to `import tensorflow` |")
    print("|---|---|---|")
    for row in rows:
        print(f"| `{row['run']}` | {row['median_s']:.2f} | {row['ratio_to_import']:.2f} |")
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load": os.getloadavg()},
        "rounds": args.rounds,
        "commands": {name: COMMANDS[name] for name in args.commands},
        "rows": rows,
        "times": times,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
