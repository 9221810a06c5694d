"""The served studio's bounded queue and its sessions' files, through `gradio_client` on 127.0.0.1 (the
`studio` of conftest.py: one request of a button at a time, two waiting)."""

import concurrent.futures
import pathlib
import time

import pytest
from gradio_client import Client
from gradio_client.utils import QueueError

from apps.jazz import swing
from apps.studio.tabs import EXAMPLE_FORMS


def take(bars, seed=0):
    """`jazz_take`'s inputs: `bars` bars of the F blues, one take, the default swing."""
    return [EXAMPLE_FORMS["F blues"], None, "", None, bars, 0, seed, 1.0, 0, 1, True, False, swing.DEFAULT]


def client(studio):
    return Client(studio.url, verbose=False, download_files=False)


@pytest.mark.slow
def test_a_burst_beyond_the_queue_is_answered_or_told_busy(studio):
    burst = studio.concurrency + studio.queue_size + 3
    clients = [client(studio) for _ in range(burst)]
    try:
        with concurrent.futures.ThreadPoolExecutor(burst) as pool:
            jobs = [
                job.result() for job in [pool.submit(one.submit, *take(4), api_name="/jazz_take") for one in clients]
            ]
        answered, busy = 0, 0
        for job in jobs:
            try:
                message, about, *_ = job.result(timeout=120)  # never a hang
            except QueueError as error:
                assert str(error) == "Queue is full! Please try again."
                busy += 1
            else:
                assert message == "" and about.startswith("**Take 1** (seed 0): 4 bars"), (message, about)
                answered += 1
        assert answered >= studio.concurrency + studio.queue_size and busy >= 1, (answered, busy)
    finally:
        for one in clients:
            one.close()


@pytest.mark.slow
def test_a_clients_two_requests_at_once_are_both_answered_and_kept(studio):
    visitor = client(studio)
    try:
        jobs = [visitor.submit(*take(1, seed), api_name="/jazz_take") for seed in (0, 1)]
        answers = [job.result(timeout=120) for job in jobs]
        # The first answer's files outlive the second request: its page or client may still be fetching them.
        assert [answer[1].split(":")[0] for answer in answers] == ["**Take 1** (seed 0)", "**Take 1** (seed 1)"]
        assert all(pathlib.Path(answer[2]["path"]).exists() for answer in answers)
    finally:
        visitor.close()


@pytest.mark.slow
def test_a_sessions_files_are_removed_when_it_ends(studio):
    visitor = client(studio)
    try:
        _, _, audio, roll, _ = visitor.predict(*take(1), api_name="/jazz_take")[:5]
        wav, png = pathlib.Path(audio["path"]), pathlib.Path(roll["path"])
        assert wav.is_relative_to(studio.temp) and wav.exists() and png.exists()
    finally:
        visitor.close()
    # The client's heartbeat stops within Gradio's heartbeat period (15 s): then the session ends.
    deadline = time.monotonic() + 45
    while wav.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not wav.exists() and not png.exists() and not wav.parent.exists()
