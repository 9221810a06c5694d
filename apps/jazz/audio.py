"""MIDI to audio: the FluidSynth command line (`fluidsynth`, Debian package `fluidsynth`) with a General MIDI
SoundFont (Debian `fluid-soundfont-gm`), rendered faster than real time to a 16-bit 44.1 kHz WAV file.

The command line rather than a Python binding: it is one Debian package, the same on every machine, and a
render is one process with nothing to keep in memory between takes.
"""

import os
import shutil
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
RENDER_TIMEOUT_S = 600


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


def render(midi_path, wav_path, renderer):
    """Renders `midi_path` to the WAV file `wav_path` with `renderer`, the pair `find_renderer` returns.

    Raises:
        UsageError: FluidSynth fails (a SoundFont it cannot read) or writes nothing.
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
        soundfont,
        midi_path,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S, check=False)
    # FluidSynth exits 0 (having written silence) even when it cannot read the SoundFont or the MIDI file.
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    if result.returncode != 0 or errors or not os.path.isfile(wav_path) or os.path.getsize(wav_path) <= 44:
        reason = (errors or result.stderr.strip().splitlines() or ["no audio written"])[0]
        raise UsageError(f"FluidSynth could not render {midi_path} with {soundfont}: {reason[:160]}")
