"""Benchmark of apps.studio: warm latency of each tab's main action through `gradio_client`, with 1 and 4
concurrent clients, a per-stage breakdown of a jazz take, and the studio's peak memory.

1. Starts `python -m apps.studio` on a free port (or uses `--url`), calls each endpoint once to warm it, then
   for each number of clients sends `--requests` requests of each action (`jazz_take`: a `--bars`-bar take
   with its WAV and piano roll; `sentiment_predict`: a sentence with its explanation; `dinos_sample`: ten
   names), each client a `gradio_client.Client` of its own, and reports p50 and p95 of the latencies.
2. In this process, the stages of one take with the studio's own functions: sampling (LiteRT), the MIDI file,
   the WAV (FluidSynth), the piano roll (Matplotlib's object API), one after the other; then the whole take as
   the studio makes it (`tabs.Jazz.takes`: the WAV rendered while the roll is drawn); medians of `--repeats`.
3. The studio process's peak resident memory (`VmHWM`), after all of it.

`--load` runs the bounded load run instead: `--bursts` bursts (2) of `--load-requests` requests (200), the
actions in turn (a 4-bar take, a sentence explained, ten names, a look inside a name), `--load-clients` (8) at
once, each client a `gradio_client.Client` of its own; a request unanswered after `LOAD_REQUEST_S` counts as
hung, so the run stops by itself. It reports, per burst, the share answered correctly, the share told the queue
is full ("busy"), any other outcome, and the studio's resident memory (`VmRSS`) after the burst.

Usage:

    python benchmarks/studio.py [--requests 20] [--clients 1 4] [--bars 12] [--repeats 5]
    python benchmarks/studio.py --load [--load-requests 200] [--load-clients 8] [--bursts 2]

Prints the figures and the path of the JSON written to benchmarks/results/studio.json (`--out` elsewhere).
"""

import argparse
import collections
import concurrent.futures
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

SENTENCE = "A gorgeous, witty, seductive movie."
START_S = 300
LOAD_REQUEST_S = 300


def jazz_arguments(bars):
    """`jazz_take`'s inputs, in the page's order: the F blues for `bars` bars, seed 0, one take, no MusicXML,
    the default swing."""
    from apps.jazz.swing import DEFAULT
    from apps.studio.tabs import EXAMPLE_FORMS

    return [EXAMPLE_FORMS["F blues"], None, "", None, bars, 0, 0, 1.0, 0, 1, True, False, DEFAULT]


ACTIONS = {
    "jazz_take": lambda args: jazz_arguments(args.bars),
    "sentiment_predict": lambda args: [SENTENCE, "SST-5"],
    "dinos_sample": lambda args: [10, 1.0, False, ""],
}


LOAD = {
    "jazz_take": (
        lambda: jazz_arguments(4),
        lambda result: result[0] == "" and result[1].startswith("**Take 1**") and result[2]["path"].endswith(".wav"),
    ),
    "sentiment_predict": (lambda: [SENTENCE, "SST-5"], lambda result: 'class="studio-word"' in result[1]),
    "dinos_sample": (lambda: [10, 1.0, False, ""], lambda result: len(result[1]["data"]) == 10),
    "dinos_look": (
        lambda: ["Tyrannosaurus"],
        lambda result: result[0].startswith("Units whose") and result[1]["path"].endswith(".png"),
    ),
}
"""The load run's actions: `(inputs, whether an answer is right)`."""


def start_studio():
    """`(process, url)` of a studio on a free port of 127.0.0.1, once its page answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "apps.studio", "--port", port]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return process, url
        except OSError:
            time.sleep(1)
    process.kill()
    raise SystemExit("the studio did not start")


def latencies(url, action, arguments, clients, requests):
    """Seconds of each of `requests` calls of `action`, sent by `clients` clients at once."""
    from gradio_client import Client

    pool = [Client(url, verbose=False) for _ in range(clients)]

    def call(index):
        start = time.perf_counter()
        pool[index % clients].predict(*arguments, api_name=f"/{action}")
        return time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(clients) as executor:
        return list(executor.map(call, range(requests)))


def burst(url, requests, clients):
    """How many of `requests` requests (the `LOAD` actions in turn, `clients` at once) were answered right,
    told "busy" (the queue full), answered wrong, failed otherwise or hung."""
    import httpx
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    pool = [Client(url, verbose=False, download_files=False) for _ in range(clients)]
    actions = list(LOAD)

    def call(index):
        action = actions[index % len(actions)]
        inputs, right = LOAD[action]
        job = pool[index % clients].submit(*inputs(), api_name=f"/{action}")
        try:
            return "answered" if right(job.result(timeout=LOAD_REQUEST_S)) else "wrong"
        except QueueError:
            return "busy"
        except concurrent.futures.TimeoutError:
            job.cancel()
            return "hung"
        except (AppError, httpx.HTTPError) as error:  # counted and shown, not raised: the run goes on
            print(f"{action}: {type(error).__name__}: {error}")
            return "failed"

    try:
        with concurrent.futures.ThreadPoolExecutor(clients) as executor:
            return collections.Counter(executor.map(call, range(requests)))
    finally:
        for client in pool:
            client.close()


def resident_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:")) / 1024


def load_run(url, process, args):
    """The bursts of the load run, each with its outcomes, seconds and the studio's memory after it."""
    burst(url, len(LOAD), 1)  # warm: the first look loads the dinos bundle's Keras model
    runs = []
    for number in range(1, args.bursts + 1):
        start = time.perf_counter()
        outcomes = burst(url, args.load_requests, args.load_clients)
        seconds = time.perf_counter() - start
        rss = resident_mib(process.pid) if process else None
        runs.append({"outcomes": dict(outcomes), "seconds": seconds, "studio_rss_mib": rss})
        shares = ", ".join(f"{name} {count / args.load_requests:.0%}" for name, count in sorted(outcomes.items()))
        memory = f", studio's memory after it {rss:.0f} MiB" if rss else ""
        print(
            f"burst {number}: {args.load_requests} requests, {args.load_clients} at once, {seconds:.0f} s: {shares}{memory}"
        )
    return runs


def stages(bars, repeats):
    """Median seconds of each stage of one take over `repeats` takes (seeds 0, 1, ...)."""
    from apps.common.paths import saved_model
    from apps.jazz import audio, chords, generate, plot
    from apps.studio import tabs

    jazz = tabs.Jazz(saved_model("jazz"))
    timeline, form_bars = chords.parse_progression(tabs.EXAMPLE_FORMS["F blues"])
    timeline = chords.repeat(timeline, form_bars, bars)
    quarters, tempo = bars * 4.0, jazz.config.get("tempo", 120.0)
    times = {"sampling": [], "midi": [], "wav": [], "piano roll": [], "take as the studio makes it": []}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(repeats + 1):  # the first take warms the imports and the SoundFont's load
            clock = time.perf_counter()
            notes = generate.generate_solo(jazz.generator, timeline, bars, seed=seed)[0]
            marks = [time.perf_counter()]
            midi = os.path.join(folder, f"take-{seed}.mid")
            score = generate.build_score(notes, timeline, quarters, tempo)
            generate.write_score(score, midi)
            marks.append(time.perf_counter())
            if jazz.renderer:
                audio.render(midi, midi[:-4] + ".wav", jazz.renderer, generate.score_seconds(score))
            marks.append(time.perf_counter())
            plot.piano_roll_figure(notes, timeline, quarters).savefig(midi[:-4] + ".png", dpi=80, format="png")
            marks.append(time.perf_counter())
            if seed:
                for name, start, end in zip(times, [clock, *marks], marks):
                    times[name].append(end - start)
        for seed in range(repeats):
            clock = time.perf_counter()
            jazz.takes(folder, tabs.EXAMPLE_FORMS["F blues"], bars=bars, seed=seed)
            times["take as the studio makes it"].append(time.perf_counter() - clock)
    return {name: statistics.median(values) for name, values in times.items()}


def latency_run(url, args):
    """The latencies of each action with each number of clients, and the stages of a take."""
    results = {"latency_s": {}}
    for action, make in ACTIONS.items():
        latencies(url, action, make(args), 1, 2)  # warm
        for clients in args.clients:
            seconds = latencies(url, action, make(args), clients, args.requests)
            p50, p95 = np.percentile(seconds, [50, 95])
            results["latency_s"].setdefault(action, {})[str(clients)] = {"p50": p50, "p95": p95}
            print(f"{action:18} {clients} client(s): p50 {p50:.3f} s  p95 {p95:.3f} s")
    results["jazz_stages_s"] = stages(args.bars, args.repeats)
    print(", ".join(f"{name} {seconds:.3f} s" for name, seconds in results["jazz_stages_s"].items()))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running studio (default: start one)")
    parser.add_argument("--requests", type=int, default=20, help="requests of each action and client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--bars", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5, help="takes timed stage by stage")
    parser.add_argument("--load", action="store_true", help="the bounded load run instead")
    parser.add_argument("--load-requests", type=int, default=200, help="requests a burst of the load run")
    parser.add_argument("--load-clients", type=int, default=8, help="clients at once in the load run")
    parser.add_argument("--bursts", type=int, default=2)
    parser.add_argument("--out", help="the JSON written (default: benchmarks/results/studio.json, studio-load.json)")
    args = parser.parse_args()
    name = "studio-load.json" if args.load else "studio.json"
    args.out = args.out or os.path.join(REPO, "benchmarks", "results", name)

    process, url = (None, args.url) if args.url else start_studio()
    try:
        results = {"bursts": load_run(url, process, args)} if args.load else latency_run(url, args)
        if process:
            results["studio_peak_rss_mib"] = resident_mib(process.pid, "VmHWM")
            print(f"studio's peak memory: {results['studio_peak_rss_mib']:.0f} MiB")
    finally:
        if process:
            process.terminate()
            process.wait(timeout=60)
    results.update(
        command=" ".join(["python", "benchmarks/studio.py", *sys.argv[1:]]),
        requests=args.load_requests if args.load else args.requests,
        bars=4 if args.load else args.bars,
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        load_average=os.getloadavg(),
    )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)
    print(args.out)


if __name__ == "__main__":
    main()
