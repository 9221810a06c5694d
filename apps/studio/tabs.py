"""What each tab of the studio does, in plain Python: the page's buttons call these, and tests call them too.

Each class loads its app's bundle once, when the studio starts, and answers a request with the app's own
functions, on the runtime the app's command line would use (`apps.common.runtime`, `auto`): the same seed gives
the same take as `python -m apps.jazz generate`, the same names as `python -m apps.dinos sample`, the same
scores as `python -m apps.sentiment predict --explain`. A request is held to `LIMITS`, tighter than the command
line's where it could cost a server much; a mistake raises `UsageError` with the line the command line would
print, never a path of the server (`public`).

The LiteRT interpreters and the Keras models are shared by Gradio's worker threads: each is used under its
class's lock. Nothing here imports Gradio.
"""

import argparse
import concurrent.futures
import html
import math
import os
import re
import secrets
import threading
import types

from apps.common import runtime
from apps.common.bundle import read_config
from apps.common.cli import float_in, int_in
from apps.common.errors import UsageError
from apps.common.files import MAX_SEED

MAX_BARS = 64
MAX_TAKES = 4
MAX_TEXT_CHARS = 2_000
MAX_UPLOAD_BYTES = 1 << 20
MAX_NAMES = 100
LIMITS = {
    "bars": MAX_BARS,
    "takes": MAX_TAKES,
    "characters of text": MAX_TEXT_CHARS,
    "bytes an upload": MAX_UPLOAD_BYTES,
    "names": MAX_NAMES,
}
"""A request's limits, as the page states them."""
EXAMPLE_FORMS = {
    "F blues": "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7",
    "rhythm changes (A)": "Bbmaj7 G7 | Cm7 F7 | Bbmaj7 G7 | Cm7 F7 | Fm7 Bb7 | Ebmaj7 Ab7 | Dm7 G7 | Cm7 F7",
    "ii-V-I cycle": "Dm7 | G7 | Cmaj7 | Cmaj7 | Cm7 | F7 | Bbmaj7 | Bbmaj7 | Bbm7 | Eb7 | Abmaj7 | Abmaj7",
}
LEAD_SHEET_EXTENSIONS = (".musicxml", ".mxl", ".xml", ".mid", ".midi")
TEMPO = float_in(20, 400)
TEMPERATURE = float_in(0.001, 1000)
# A directory part of an absolute path (Gradio's upload folder, a temporary folder): never shown to a visitor.
_DIRECTORIES = re.compile(r"(?<![\w/.])/(?:[^/\s'\"]+/)+")


def public(message):
    """`message` without the folders of any absolute path in it: a file is named by its own name only."""
    return _DIRECTORIES.sub("", message)


def value(text, parse, what):
    """`parse(text)` with an argparse type of `apps.common.cli`, its refusal as the `UsageError` "`what`: ..."."""
    if isinstance(text, float) and text.is_integer():
        text = int(text)  # a number field's 12.0 is the integer 12
    try:
        return parse(str(text))
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"{what}: {error}") from None


def check_text(text, what="text"):
    """Refuses a text over `MAX_TEXT_CHARS` characters."""
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"{what}: {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    return text


def check_upload(path, extensions, what):
    """Refuses an uploaded file over `MAX_UPLOAD_BYTES` or without one of `extensions`; returns `path`."""
    name = os.path.basename(path)
    if not name.lower().endswith(extensions):
        raise UsageError(f"{what} {name}: not one of {', '.join(extensions)}")
    size = os.path.getsize(path)
    if size > MAX_UPLOAD_BYTES:
        raise UsageError(f"{what} {name} is {size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,} (1 MB)")
    return path


def _load(bundle, app, on_litert, on_keras):
    """`(runtime, what answers)`: `on_litert(.tflite path, config)` where `--runtime auto` answers on LiteRT,
    else `on_keras(model, config)`."""
    config = read_config(bundle, app)
    if runtime.choose(types.SimpleNamespace(runtime="auto"), bundle, config) == "litert":
        return "litert", on_litert(os.path.join(bundle, runtime.LITERT_FILE), config)
    from apps.common.commands import load_app_bundle

    return "keras", on_keras(*load_app_bundle(app, bundle))


class Jazz:
    """Takes over a progression, written as `python -m apps.jazz generate --wav --plot` writes them.

    Args:
        bundle: a jazz bundle directory.
    """

    def __init__(self, bundle):
        from apps.common.litert import StepRunner
        from apps.jazz import audio, generate

        self.runtime, self.generator = _load(
            bundle,
            "jazz",
            lambda path, config: generate.LiteRTSoloSampler(StepRunner(path), config),
            generate.SoloSampler,
        )
        self.config = self.generator.config
        try:
            self.renderer, self.no_audio = audio.find_renderer(), None
        except UsageError as error:
            self.renderer, self.no_audio = None, f"no audio: {error}; the MIDI file plays the take"
        self._lock = threading.Lock()

    def progression(self, chords="", lead_sheet=None):
        """`(timeline, bars, tempo or None, bar_quarters)` of the typed chords or of an uploaded lead sheet."""
        from apps.jazz import chords as chord_lib
        from apps.jazz import generate, leadsheet

        if lead_sheet:
            check_upload(lead_sheet, LEAD_SHEET_EXTENSIONS, "lead sheet")
            return leadsheet.read_lead_sheet(lead_sheet, max_bars=MAX_BARS)
        text = check_text(chords or generate.DEFAULT_PROGRESSION, "chords")
        return (*chord_lib.parse_progression(text, max_bars=MAX_BARS), None, 4.0)

    @staticmethod
    def primer(notes="", upload=None):
        """The primer's `(offset, duration, midi)` triples, from typed notes or an uploaded MIDI/MusicXML file;
        None without one. Typed text is read as notes only, never as a file of the server."""
        from apps.jazz import data, leadsheet

        if upload:
            return leadsheet.read_primer(check_upload(upload, data.MUSIC_EXTENSIONS, "primer"))
        notes = check_text(notes or "", "primer").strip()
        if not notes:
            return None
        if notes.lower().endswith(data.MUSIC_EXTENSIONS) or os.path.exists(notes):
            raise UsageError("--primer: type notes such as C5 E5:1/2 G5:1/2, or upload a MIDI/MusicXML file")
        return leadsheet.read_primer(notes)

    def takes(
        self,
        out_dir,
        chords="",
        lead_sheet=None,
        primer="",
        primer_file=None,
        bars=None,
        tempo=None,
        seed=0,
        temperature=1.0,
        top_k=0,
        count=1,
        keep_primer=True,
        musicxml=False,
        swing=None,
    ):
        """Samples `count` takes (take i with seed `seed + i`) and writes each into `out_dir`.

        `swing` is `generate --swing`: where the audio's off-beat eighths fall (default `apps.jazz.swing.DEFAULT`).

        Returns:
            One dict a take: `seed`, `notes`, `midi`, `wav` (None without FluidSynth), `png`, `musicxml` (None
            unless asked for), `shares` (chord, scale, approach and other tones), `bars`, `tempo`.

        Raises:
            UsageError: a value out of its range or over a limit, unreadable chords, lead sheet or primer.
        """
        from apps.jazz import chords as chord_lib
        from apps.jazz import evaluate, generate, leadsheet, plot
        from apps.jazz.swing import DEFAULT, SWING

        count = value(count, int_in(1, MAX_TAKES), "takes")
        swing = DEFAULT if swing is None else value(swing, SWING, "swing")
        seed = value(seed, int_in(0, MAX_SEED), "seed")
        temperature = value(temperature, TEMPERATURE, "temperature")
        top_k = value(top_k, int_in(0, 1_000_000), "top-k")
        timeline, form_bars, sheet_tempo, bar_quarters = self.progression(chords, lead_sheet)
        measures = value(bars, int_in(1, MAX_BARS), "bars") if bars else form_bars
        notes = self.primer(primer, primer_file)
        if notes:
            leadsheet.check_primer(notes, measures * bar_quarters)
        tempo = value(tempo, TEMPO, "tempo") if tempo else sheet_tempo or self.config.get("tempo", 120.0)
        timeline = chord_lib.repeat(timeline, form_bars, measures, bar_quarters)
        quarters = measures * bar_quarters
        takes = []
        for take in range(count):
            with self._lock:
                solo = generate.generate_solo(
                    self.generator,
                    timeline,
                    measures,
                    temperature=temperature,
                    seed=seed + take,
                    bar_quarters=bar_quarters,
                    top_k=top_k,
                    primer=notes,
                    keep_primer=keep_primer,
                )[0]
            path = os.path.join(out_dir, f"take-{seed + take}.mid")
            stem = os.path.splitext(path)[0]
            score = generate.build_score(solo, timeline, quarters, tempo, bar_quarters)
            # The files (FluidSynth's render, a process of its own) are written while the roll is drawn.
            with concurrent.futures.ThreadPoolExecutor(1) as writer:
                written = writer.submit(
                    generate.write_score, score, path, musicxml=musicxml, renderer=self.renderer, swing=swing
                )
                figure = plot.piano_roll_figure(
                    solo,
                    timeline,
                    quarters,
                    bar_quarters,
                    title=f"seed {seed + take}, temperature {temperature:g}",
                    primer_end=max(offset + duration for offset, duration, _ in notes) if notes else None,
                )
                figure.savefig(stem + ".png", dpi=80, format="png")
                written.result()
            stats = evaluate.statistics(solo, timeline, bar_quarters)
            takes.append(
                {
                    "seed": seed + take,
                    "notes": solo,
                    "midi": path,
                    "wav": stem + ".wav" if self.renderer else None,
                    "png": stem + ".png",
                    "musicxml": stem + ".musicxml" if musicxml else None,
                    "shares": {kind: stats[f"{kind}_tone_share"] for kind in ("chord", "scale", "approach", "other")},
                    "bars": measures,
                    "tempo": tempo,
                }
            )
        return takes


class Sentiment:
    """Label, stars, probabilities and the words that decided, as `python -m apps.sentiment predict --explain`.

    Args:
        bundles: `{name shown: bundle directory}`, e.g. the SST-5 and the SST-2 bundles.
    """

    def __init__(self, bundles):
        for bundle in bundles.values():
            read_config(bundle, "sentiment")
        from apps.common.commands import load_app_bundle

        self.models = {name: load_app_bundle("sentiment", bundle) for name, bundle in bundles.items()}
        self._lock = threading.Lock()

    def predict(self, text, bundle=None):
        """Each non-blank line of `text` judged and explained (integrated gradients).

        Returns:
            One dict a line, as `predict --explain --json` prints it: `text`, `label`, `stars`,
            `probabilities`, `explanation` (`tokens`, `scores`, ...).
        """
        from apps.sentiment.explain import explain
        from apps.sentiment.predict import predict

        texts = [line for line in check_text(text or "").splitlines() if line.strip()]
        if not texts:
            raise UsageError("no text to judge: type a sentence, one a line")
        bundle = bundle or next(iter(self.models))
        if bundle not in self.models:
            raise UsageError(f"no model named {bundle!r}: one of {', '.join(self.models)}")
        model, config = self.models[bundle]
        with self._lock:
            results = predict(model, config, texts)
            explanations = explain(model, texts, labels=config["labels"])
        for result, explanation in zip(results, explanations):
            result["explanation"] = {key: item for key, item in explanation.items() if key != "text"}
        return results


def words_html(explanation):
    """The explained tokens as HTML: green where a word pushed towards the label, red where away, the deeper
    the larger its share; each word's score in its title."""
    scores = explanation["scores"]
    largest = max(map(abs, scores), default=0.0) or 1.0
    words = []
    for token, score in zip(explanation["tokens"], scores):
        colour = "22, 163, 74" if score > 0 else "220, 38, 38"
        words.append(
            f'<span class="studio-word" data-score="{score:.6f}" title="{score:+.3f}" '
            f'style="background: rgba({colour}, {0.15 + 0.75 * abs(score) / largest:.2f}); '
            f'padding: 1px 3px; border-radius: 3px">{html.escape(token)}</span>'
        )
    return " ".join(words)


class Dinos:
    """Names with their bits per character, as `python -m apps.dinos sample --json` draws them.

    Args:
        bundle: a dinos bundle directory.
    """

    def __init__(self, bundle):
        from apps.dinos import data, litert, sample

        self.bundle = bundle
        self.runtime, self.sampler = _load(bundle, "dinos", litert.NameSampler, sample.NameSampler)
        self.vocab = data.Vocabulary.from_config(read_config(bundle, "dinos")["vocabulary"])
        self._model = None
        self._lock = threading.Lock()

    def sample(self, n=10, temperature=1.0, novel=False, seed=None):
        """`(seed, [(name, bits per character), ...])`: `n` names, the end of each name counted as a character."""
        n = value(n, int_in(1, MAX_NAMES), "names")
        temperature = value(temperature, TEMPERATURE, "temperature")
        seed = secrets.randbelow(MAX_SEED) if seed in (None, "") else value(seed, int_in(0, MAX_SEED), "seed")
        with self._lock:
            names = self.sampler.sample(n, temperature=temperature, seed=seed, novel=bool(novel))
        return seed, [(name, -log_prob / math.log(2) / (len(name) + 1)) for name, log_prob in names]

    def inspect(self, out_dir, name, top=5):
        """A look inside the model reading `name`, as `python -m apps.dinos inspect NAME --plot` shows it.

        Returns:
            A dict: `name` (normalised), `steps` (per step: the character read, the one that follows, the
            probability given to it, and the `top` likeliest next characters with theirs; characters as
            `inspect` prints them, the end of the name `<end>`), `units` (as
            `apps.dinos.inspect.units`) and `png`, the heat maps written into `out_dir` as `--plot` writes them.

        Raises:
            UsageError: an empty name, one over the command line's limit or with a character outside the
                vocabulary.
        """
        from apps.common.commands import load_app_bundle
        from apps.common.files import MAX_NAME_CHARS
        from apps.dinos import inspect as look

        name = look.check_name(check_text(name or ""), self.vocab, MAX_NAME_CHARS)
        with self._lock:
            # The traces need the Keras model (the cell's own gates), loaded on the first look only.
            self._model = self._model or load_app_bundle("dinos", self.bundle)[0]
            report = look.inspect_name(self._model, self.vocab, name, top=top)
        png = look.plot(report, os.path.join(out_dir, "heat-maps.png"), look.TITLE.format(name=name))
        steps = [
            (look.shown(read), look.shown(target), p_next, [(look.shown(char), p) for char, p in likeliest])
            for read, target, p_next, likeliest in zip(
                report["inputs"], report["targets"], report["p_next"].tolist(), report["top"]
            )
        ]
        return {"name": name, "steps": steps, "units": look.units(report), "png": png}
