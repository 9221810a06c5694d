"""`python -m apps.studio`: the three apps in a local web page (docs/studio.md).

Loads each app's bundle once, prints the page's address and serves it until Ctrl-C (exit 130) or SIGTERM
(143). It binds 127.0.0.1 unless `--host` says otherwise, and works offline: Gradio's analytics and version
check off, no share link. The options, the bundles and the port are checked before TensorFlow or Gradio loads;
a mistake is one line on stderr and exit code 2.
"""

import argparse
import importlib.util
import os
import shutil
import socket
import tempfile
import threading
import time

from apps.common.bundle import read_config
from apps.common.cli import ArgumentParser, int_in, run
from apps.common.errors import UsageError
from apps.common.files import describe_os_error
from apps.common.paths import saved_model

PROG = "python -m apps.studio"
HOST = "127.0.0.1"
PORT = 7860
BUNDLES = {
    "jazz_model": ("jazz", saved_model("jazz")),
    "sentiment_model": ("sentiment", saved_model("sentiment")),
    "sentiment_sst2_model": ("sentiment", saved_model("sentiment-sst2")),
    "dinos_model": ("dinos", saved_model("dinos")),
}
"""Option (as argparse names it) -> the app of its bundle and the shipped one."""


def build_parser():
    parser = ArgumentParser(prog=PROG, description="The jazz, sentiment and dinos apps in a local web page.")
    parser.add_argument("--host", default=HOST, help="address to listen on (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int_in(1, 65535), default=PORT, help="port (default: %(default)s)")
    for option, (app, bundle) in BUNDLES.items():
        parser.add_argument(
            f"--{option.replace('_', '-')}", default=bundle, help=f"{app} bundle (default: %(default)s)"
        )
    # For tests: a queue small enough to fill with a handful of requests (apps.studio.page's defaults otherwise).
    parser.add_argument("--concurrency", type=int_in(1, 64), help=argparse.SUPPRESS)
    parser.add_argument("--queue-size", type=int_in(0, 1024), help=argparse.SUPPRESS)
    parser.set_defaults(command=None)
    return parser


def main(argv=None):
    """Serves the studio until interrupted; returns the exit code (2 for a mistake in the options)."""
    return run(build_parser(), argv, {None: _serve})


def _check_port(host, port):
    """Refuses an address this machine cannot listen on, or a port in use, before anything loads."""
    try:
        with socket.create_server((host, port)):
            pass
    except (OSError, ValueError) as error:
        reason = describe_os_error(error) if isinstance(error, OSError) else None
        raise UsageError(f"cannot listen on {host}:{port}: {reason or error}") from None


def _serve(args):
    if importlib.util.find_spec("gradio") is None:
        raise UsageError("the studio needs Gradio: pip install 'sequence-models[studio]'")
    for option, (app, _) in BUNDLES.items():
        read_config(getattr(args, option), app)
    _check_port(args.host, args.port)
    # Read by Gradio when it is imported: no analytics, no version check.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    # Gradio's uploads and its copies of the outputs, and the sessions' takes: removed when the studio stops.
    folder = tempfile.mkdtemp(prefix="apps-studio-")
    os.environ["GRADIO_TEMP_DIR"] = folder
    tempfile.tempdir = folder
    try:
        from apps.studio import page, tabs

        jazz = tabs.Jazz(args.jazz_model)
        sentiment = tabs.Sentiment({"SST-5": args.sentiment_model, "SST-2": args.sentiment_sst2_model})
        dinos = tabs.Dinos(args.dinos_model)
        queue = {"concurrency": args.concurrency, "queue_size": args.queue_size}
        demo = page.build(jazz, sentiment, dinos, **{key: value for key, value in queue.items() if value is not None})
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            prevent_thread_lock=True,
            quiet=True,
            max_file_size=tabs.MAX_UPLOAD_BYTES,
            ssr_mode=False,
            mcp_server=False,
        )
        try:
            print(f"studio: http://{args.host}:{args.port}", flush=True)
            # One request each, while the first visitor's page loads (a request meanwhile waits for the tab's
            # lock): the rest of the imports, the traced functions and the SoundFont's load happen now.
            stop = threading.Event()
            warming = threading.Thread(target=_warm, args=(stop, jazz, sentiment, dinos))
            warming.start()
            try:
                while True:
                    time.sleep(1)
            finally:
                # A thread still inside TensorFlow when the interpreter exits aborts it: the step under way ends.
                stop.set()
                warming.join()
        finally:
            demo.close()
    finally:
        tempfile.tempdir = None
        shutil.rmtree(folder, ignore_errors=True)


def _warm(stop, jazz, sentiment, dinos):
    steps = [lambda: jazz.takes(tempfile.mkdtemp(), bars=1)]
    steps += [lambda bundle=bundle: sentiment.predict("warm", bundle) for bundle in sentiment.models]
    steps += [lambda: dinos.sample(1, seed=0)]
    for step in steps:
        if stop.is_set():
            return
        step()
