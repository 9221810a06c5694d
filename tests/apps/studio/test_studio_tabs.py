"""The studio's tabs without a browser: each answers as its app's command line does, and holds a request to the
server's limits with the command line's kind of line, naming no folder of the server."""

import contextlib
import io
import json
import os
import pathlib
import subprocess
import sys

import matplotlib.pyplot
import numpy as np
import pytest

from apps.common.errors import UsageError
from apps.common.paths import saved_model
from apps.dinos.cli import main as dinos_main
from apps.jazz import audio
from apps.jazz.cli import main as jazz_main
from apps.sentiment.cli import main as sentiment_main
from apps.studio import tabs


def run_json(main, *argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--json"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def jazz():
    return tabs.Jazz(saved_model("jazz"))


def refusal(call, *args, **kwargs):
    """The line of the `UsageError` that `call` raises, as the page shows it."""
    with pytest.raises(UsageError) as raised:
        call(*args, **kwargs)
    line = tabs.public(str(raised.value))
    assert "\n" not in line and "Traceback" not in line, line
    return line


def test_a_take_is_the_one_generate_writes_for_the_same_seed(jazz, tmp_path):
    cli, studio = tmp_path / "cli", tmp_path / "studio"
    studio.mkdir()
    options = ["--chords", "Dm7 G7 | Cmaj7", "--measures", "4", "--temperature", "0.8", "--top-k", "5"]
    out = ["--out", str(cli / "solo.mid"), "--wav"]
    assert jazz_main(["generate", *options, "--seed", "7", "--num-outputs", "2", *out]) == 0
    takes = jazz.takes(str(studio), chords="Dm7 G7 | Cmaj7", bars=4, temperature=0.8, top_k=5, seed=7, count=2)
    assert jazz.runtime == "litert"  # as generate's --runtime auto with the shipped bundle
    assert [take["seed"] for take in takes] == [7, 8]
    for number, take in enumerate(takes, 1):
        assert open(take["midi"], "rb").read() == (cli / f"solo-{number}.mid").read_bytes()
        assert open(take["wav"], "rb").read() == (cli / f"solo-{number}.wav").read_bytes()  # rendered alike
        assert open(take["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        assert sum(take["shares"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (dict(bars=65), "bars: must be an integer from 1 to 64, got 65"),
        (dict(count=5), "takes: must be an integer from 1 to 4, got 5"),
        (dict(chords="C7 " * 667), "chords: 2,001 characters; the limit is 2,000"),
        (dict(chords=" | ".join(["C7"] * 65)), "the limit is 64"),
        (dict(primer="C5 " * 667), "primer: 2,001 characters; the limit is 2,000"),
        (dict(swing=0.8), "swing: must be at least 0.5 and under 0.8, got 0.8"),
        (dict(swing="nan"), "swing: must be at least 0.5 and under 0.8, got nan"),
    ],
)
def test_a_jazz_request_over_a_limit_gets_one_line(jazz, tmp_path, request_, expected):
    assert expected in refusal(jazz.takes, str(tmp_path), **request_)
    assert not os.listdir(tmp_path)


def test_a_takes_audio_is_swung_as_generate_swings_it(jazz, tmp_path, monkeypatch):
    heard = []

    def render(midi_path, wav_path, renderer, seconds):
        heard.append(pathlib.Path(midi_path).read_bytes())
        pathlib.Path(wav_path).write_bytes(b"RIFF\4\0\0\0WAVE")

    renderer = ("fluidsynth", "font.sf2")  # FluidSynth or not, the MIDI it would be given
    monkeypatch.setattr(audio, "render", render)
    monkeypatch.setattr(audio, "find_renderer", lambda soundfont=None: renderer)
    monkeypatch.setattr(jazz, "renderer", renderer)
    options = ["--chords", "Dm7 G7 | Cmaj7", "--measures", "4", "--seed", "7", "--wav", "--swing", "2/3"]
    assert jazz_main(["generate", *options, "--out", str(tmp_path / "cli" / "solo.mid")]) == 0
    jazz.takes(str(tmp_path), chords="Dm7 G7 | Cmaj7", bars=4, seed=7, swing="2/3")
    cli, studio = heard
    assert studio == cli != (tmp_path / "take-7.mid").read_bytes()  # swung, and only in what is heard


def test_an_upload_over_a_megabyte_is_refused_by_its_name_alone(jazz, tmp_path):
    sheet = tmp_path / "tune.mid"
    sheet.write_bytes(b"MThd" + b"\0" * ((1 << 20) - 3))
    line = refusal(jazz.takes, str(tmp_path / "out"), lead_sheet=str(sheet))
    assert line == "lead sheet tune.mid is 1,048,577 bytes; the limit is 1,048,576 (1 MB)"


def test_an_unreadable_lead_sheet_is_named_without_the_servers_folder(jazz, tmp_path):
    sheet = tmp_path / "gradio" / "0123abcd" / "tune.musicxml"
    sheet.parent.mkdir(parents=True)
    sheet.write_text("not music")
    line = refusal(jazz.takes, str(tmp_path), lead_sheet=str(sheet))
    assert "tune.musicxml" in line and str(tmp_path) not in line and "/" not in line.split("tune.musicxml")[0]


def test_a_typed_primer_is_never_read_as_a_file_of_the_server(jazz, tmp_path):
    secret = tmp_path / "solo.mid"
    secret.write_bytes(b"")
    for typed in (str(secret), "solo.musicxml"):
        assert "upload" in refusal(jazz.primer, typed)


def test_public_drops_the_folders_of_absolute_paths_only():
    assert tabs.public("/tmp/gradio/ab12/tune.mxl: no chords in C/E | Dm7") == "tune.mxl: no chords in C/E | Dm7"


def test_names_are_samples_names_with_scores_bits_per_character():
    dinos = tabs.Dinos(saved_model("dinos"))
    seed, names = dinos.sample(5, temperature=0.9, seed=11)
    sampled = run_json(dinos_main, "sample", "-n", "5", "--temperature", "0.9", "--seed", "11")
    assert seed == 11 and [name for name, _ in names] == [row["name"] for row in sampled["names"]]
    scored = run_json(dinos_main, "score", *[name for name, _ in names])["names"]
    np.testing.assert_allclose([bits for _, bits in names], [row["bits_per_char"] for row in scored], rtol=1e-5)
    assert refusal(dinos.sample, 101) == "names: must be an integer from 1 to 100, got 101"


@pytest.mark.slow
def test_look_inside_shows_what_inspect_prints_and_draws(tmp_path, capsys, monkeypatch):
    dinos = tabs.Dinos(saved_model("dinos"))
    png = tmp_path / "inspect.png"
    assert dinos_main(["inspect", "Tyrannosaurus", "--plot", str(png), "--top", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()

    def no_pyplot(*args, **kwargs):
        raise AssertionError("pyplot's figures are global state, not safe in Gradio's worker threads")

    monkeypatch.setattr(matplotlib.pyplot, "figure", no_pyplot)
    look = dinos.inspect(str(tmp_path), "Tyrannosaurus", top=3)
    assert open(look["png"], "rb").read() == png.read_bytes()
    steps = [
        [
            read,
            target,
            f"{p_next:.3f}",
            *(f"{item:.3f}" if isinstance(item, float) else item for pair in top for item in pair),
        ]
        for read, target, p_next, top in look["steps"]
    ]
    assert steps == [line.split() for line in printed[1 : len(steps) + 1]] and len(steps) == 14
    units = [
        f"layer {number}, {feature}: " + ", ".join(f"unit {unit} r={r:+.2f}" for unit, r in found)
        for number, feature, found in look["units"]
    ]
    assert units == [line.strip() for line in printed if line.startswith("  layer ")]
    assert refusal(dinos.inspect, str(tmp_path), " ") == "the name is empty: give one of 1 to 100 characters"
    assert refusal(dinos.inspect, str(tmp_path), "rex9") == "'rex9' has characters outside the model's vocabulary: '9'"
    assert "is 101 characters; the limit is 100" in refusal(dinos.inspect, str(tmp_path), "a" * 101)


@pytest.mark.slow
def test_the_explanation_is_predict_explains():
    sentiment = tabs.Sentiment({"SST-5": saved_model("sentiment"), "SST-2": saved_model("sentiment-sst2")})
    text = "A gorgeous, witty, seductive movie.\n\nThere is nothing to like in this movie."
    for name, bundle in (("SST-5", "sentiment"), ("SST-2", "sentiment-sst2")):
        ours = sentiment.predict(text, name)
        theirs = run_json(sentiment_main, "predict", "--explain", "--model", saved_model(bundle), *text.split("\n\n"))
        assert [row["label"] for row in ours] == [row["label"] for row in theirs]
        assert [row["explanation"]["scores"] for row in ours] == [row["explanation"]["scores"] for row in theirs]
        html = tabs.words_html(ours[0]["explanation"])
        assert html.count('class="studio-word"') == len(ours[0]["explanation"]["tokens"])
    assert refusal(sentiment.predict, "a" * 2001) == "text: 2,001 characters; the limit is 2,000"
    assert refusal(sentiment.predict, " \n ") == "no text to judge: type a sentence, one a line"
    assert refusal(sentiment.predict, "fine", "SST-3") == "no model named 'SST-3': one of SST-5, SST-2"


def test_a_take_is_drawn_without_pyplot(tmp_path):
    """Matplotlib's object API only: pyplot's global figure state is not safe in Gradio's worker threads."""
    script = (
        "import sys\n"
        "from apps.common.paths import saved_model\n"
        "from apps.studio import tabs\n"
        "jazz = tabs.Jazz(saved_model('jazz'))\n"
        "jazz.renderer = None\n"
        "take = jazz.takes(sys.argv[1], bars=1)[0]\n"
        "print(open(take['png'], 'rb').read(4), 'matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-2:] == ["b'\\x89PNG'", "False"], done.stderr[-2000:]
