"""MIDI to audio: the FluidSynth command line (`fluidsynth`, Debian package `fluidsynth`) with a General MIDI
SoundFont (Debian `fluid-soundfont-gm`), rendered faster than real time to a 16-bit 44.1 kHz WAV file.

The command line rather than a Python binding: it is one Debian package, the same on every machine, and a
render is one process with nothing to keep in memory between takes.
"""

import contextlib
import os
import shutil
import signal
import subprocess

from apps.common.errors import UsageError

SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)
"""Where Debian, Ubuntu and Fedora put a General MIDI SoundFont, tried in order."""
SAMPLE_RATE = 44_100
GAIN = 0.6  # FluidSynth's default 0.2 is quiet; at 1 a full band clips
RENDER_START_S = 30
"""Seconds FluidSynth may take to start and load a SoundFont (FluidR3_GM's is 140 MB)."""
RENDER_MIN_SPEED = 4
"""Seconds of audio a second that FluidSynth renders at the least: far below its speed on any machine."""


def find_renderer(soundfont=None):
    """Finds FluidSynth and a SoundFont, before any work is done.

    Args:
        soundfont: a `.sf2`/`.sf3` file, or None for the first of `SOUNDFONTS` present.

    Returns:
        `(fluidsynth, soundfont)` paths.

    Raises:
        UsageError: FluidSynth is not installed, or the SoundFont is missing.
    """
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        raise UsageError(
            "--wav needs FluidSynth, which is not installed (Debian: apt-get install fluidsynth fluid-soundfont-gm)"
        )
    if soundfont is not None:
        if not os.path.isfile(soundfont):
            raise UsageError(f"--soundfont {soundfont}: file not found")
        # FluidSynth renders silence, and exits 0, with a file that is not a SoundFont: check its RIFF header.
        with open(soundfont, "rb") as handle:
            header = handle.read(12)
        if header[:4] != b"RIFF" or header[8:] != b"sfbk":
            raise UsageError(f"--soundfont {soundfont}: not a SoundFont (.sf2) file")
        return fluidsynth, soundfont
    for candidate in SOUNDFONTS:
        if os.path.isfile(candidate):
            return fluidsynth, candidate
    raise UsageError(
        "--wav needs a General MIDI SoundFont and none is installed (Debian: apt-get install "
        "fluid-soundfont-gm), or give one with --soundfont PATH"
    )


def render_timeout(seconds):
    """How long a render of `seconds` of audio may take before FluidSynth is taken to be stuck."""
    return RENDER_START_S + seconds / RENDER_MIN_SPEED


def render(midi_path, wav_path, renderer, seconds):
    """Renders `midi_path` to the WAV file `wav_path` with `renderer`, the pair `find_renderer` returns.

    Args:
        seconds: how long the MIDI file plays: FluidSynth is stopped after `render_timeout(seconds)`.

    Raises:
        UsageError: FluidSynth fails (a SoundFont it cannot read), writes nothing, or is stuck.
    """
    fluidsynth, soundfont = renderer
    command = [
        fluidsynth,
        "-n",
        "-i",
        "-q",
        "-g",
        str(GAIN),
        "-r",
        str(SAMPLE_RATE),
        "-T",
        "wav",
        "-F",
        wav_path,
        # Only the samples of the instruments the file plays are loaded, not the whole SoundFont (FluidR3_GM's
        # 140 MB): the same WAV, byte for byte, from a process of a third of the memory, started sooner.
        "-o",
        "synth.dynamic-sample-loading=1",
        soundfont,
        midi_path,
    ]
    timeout = render_timeout(seconds)
    # Its own process group, ended whole on a timeout: a child it left running (a wrapper script's) would
    # hold the output pipes open, and reading them would wait for it for ever.
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise UsageError(
                f"{fluidsynth} did not finish rendering {seconds:.0f} s of audio within {timeout:.0f} s: stopped it"
            ) from None
        except BaseException:  # Ctrl-C, SIGTERM: no renderer left behind
            _kill_group(process)
            raise
    # FluidSynth exits 0 (having written silence) even when it cannot read the SoundFont or the MIDI file.
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    if process.returncode != 0 or errors or not os.path.isfile(wav_path) or os.path.getsize(wav_path) <= 44:
        reason = (errors or stderr.strip().splitlines() or ["no audio written"])[0]
        raise UsageError(f"FluidSynth could not render {midi_path} with {soundfont}: {reason[:160]}")


def _kill_group(process):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
