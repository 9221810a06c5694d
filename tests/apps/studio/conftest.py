"""One studio for the tests that need it served (`python -m apps.studio` on a free port of 127.0.0.1): its
queue small enough that a burst of a handful of requests fills it (`QUEUE`), its temporary folder in a folder of
the tests (`Studio.temp`)."""

import os
import socket
import subprocess
import sys
import time
import types

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
START_S = 150
QUEUE = {"concurrency": 1, "queue_size": 2}
"""One request of a button answered at a time, two waiting: a fourth at once is told the queue is full."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    """`url`, `temp` (the folder holding the studio's temporary folder) and `QUEUE`'s sizes of a studio served
    until the tests end, which must then stop on SIGTERM with exit code 143."""
    temp = tmp_path_factory.mktemp("studio-temp")
    port = free_port()
    command = [sys.executable, "-m", "apps.studio", "--port", str(port)]
    command += ["--concurrency", str(QUEUE["concurrency"]), "--queue-size", str(QUEUE["queue_size"])]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_S
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("studio: http://127.0.0.1:"):
                break
            assert line or process.poll() is None, "".join(lines)
        else:
            pytest.fail("the studio did not start:\n" + "".join(lines))
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{port}", temp=temp, **QUEUE)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 143
