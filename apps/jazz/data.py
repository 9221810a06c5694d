"""Solos from MIDI and MusicXML files: the melody and the chord sounding under each note, cached.

Everything is read by music21 (`converter.parse`; MIDI as written, without music21's quantisation, so a solo
that `generate` wrote reads back note for note). From a score we keep:

- the melody: the part named like a solo/melody/lead if there is one, else the pitched part (mean pitch at
  least `MIN_MELODY_PITCH`, so not the bass) with the most single-note onsets; chords in it are reduced to
  their top note;
- the chords: the score's `ChordSymbol`s (the Weimar Jazz Database files have them); a score without any
  (the course's MIDI file) gets them from its other pitched parts, chordified and named with
  `harmony.chordSymbolFromChord` every `DERIVED_CHORD_QUARTERS` quarter notes (half a 4/4 bar);
- the tempo (first metronome mark, else 120) and the bar length (first time signature, else 4/4), a whole
  number of the grid's steps (`apps.jazz.grammar.GRID` a quarter note) and at most `MAX_BAR_QUARTERS`.

Parsing costs ~0.4 s a file, so `load_solos` caches each result as JSON under `cache_dir` (by default
`$JAZZ_CACHE_DIR`, else the user's cache folder, `apps.common.paths.user_cache("jazz")`), keyed by the sha256 of
the file's bytes (and `CACHE_VERSION`), and shows its progress on a terminal while it parses
(`apps.common.progress`). music21's own cache of parsed files (pickles in its scratch directory, `/tmp/music21/`
by default) is not used: `parse_music` parses from the source, with music21's scratch directory pointed at a
temporary directory removed when it returns.
"""

import codecs
import contextlib
import dataclasses
import fractions
import glob
import hashlib
import io
import json
import os
import pathlib
import re
import tempfile
import zipfile

from apps.common.cli import printable
from apps.common.errors import UsageError
from apps.common.files import (
    MAX_MIDI_FILE_BYTES,
    MAX_MUSIC_FILE_BYTES,
    MAX_MUSIC_FILES,
    atomic_file,
    check_member_size,
    check_readable,
    read_json,
    sha256_of,
    unzip_member,
)
from apps.common.paths import user_cache
from apps.common.progress import Progress
from apps.jazz.chords import Chord, Timeline
from apps.jazz.grammar import GRID

MIDI_EXTENSIONS = (".mid", ".midi")
MUSIC_EXTENSIONS = (*MIDI_EXTENSIONS, ".mxl", ".xml", ".musicxml")
CACHE_VERSION = 4
"""Part of each cache file's name: raised whenever reading a file may give another `Solo` or refusal, so that no
result of older rules is used (4: `MAX_CHORD_SYMBOLS`)."""
MIN_MELODY_PITCH = 55
DERIVED_CHORD_QUARTERS = 2.0
MELODY_NAMES = ("solo", "melody", "lead")
MAX_BAR_QUARTERS = 16
"""The longest bar (16/4): what generating a solo allocates grows with the length of its bars."""
MAX_CHORD_SYMBOLS = 24_000
"""Chord symbols (`<harmony>` elements) in one MusicXML score, counted before music21 reads it: 24 a bar over the
longest form (1,000 bars). music21 keeps kilobytes for each symbol it reads, on top of the score's notes, and
`generate` voices each chord again: twice as many beside a 16 MiB score's notes neared 2 GB."""
_HARMONY = re.compile(rb"<harmony[\s/>]")
MIDI_PITCHES = range(128)
"""The pitches a melody may hold: MIDI's. It also bounds the vocabulary: a token is a pitch (or a tone type and
an interval window) and one of `grammar.MAX_STEPS` durations, so at most 6,192 tokens in all."""


@dataclasses.dataclass
class Solo:
    """A melody with its chords.

    Attributes:
        name: where it came from (file name).
        notes: `(offset, duration, midi)` triples in quarter notes, sorted by offset.
        timeline: the chords, an `apps.jazz.chords.Timeline`.
        tempo: quarter notes a minute.
        bar_quarters: length of a bar in quarter notes.
        length: length of the piece in quarter notes.
    """

    name: str
    notes: list
    timeline: Timeline
    tempo: float = 120.0
    bar_quarters: float = 4.0
    length: float = 0.0

    def to_json(self):
        return {
            "name": self.name,
            "notes": [list(note) for note in self.notes],
            "chords": self.timeline.to_json(),
            "tempo": self.tempo,
            "bar_quarters": self.bar_quarters,
            "length": self.length,
        }

    @classmethod
    def from_json(cls, item):
        return cls(
            item["name"],
            [tuple(note) for note in item["notes"]],
            Timeline.from_json(item["chords"]),
            item["tempo"],
            item["bar_quarters"],
            item["length"],
        )


def solo_from_score(score, name="score"):
    """Extracts the melody and chords of a music21 score (or a single part/stream).

    Raises:
        UsageError: the score has no melody, or neither chord symbols nor other parts to derive chords from.
    """
    parts, melody, notes = melody_notes(score, name)
    changes = chord_symbols(score) or derive_chords([part for part in parts if part is not melody], score.highestTime)
    if not changes:
        raise UsageError(f"{name}: no chord symbols and no accompaniment to derive chords from")
    return Solo(
        name=name,
        notes=notes,
        timeline=Timeline(changes),
        tempo=score_tempo(score) or 120.0,
        bar_quarters=score_bar_quarters(score, name),
        length=float(score.highestTime),
    )


def melody_notes(score, name="score"):
    """The melody of a score (see the module docstring) as sorted `(offset, duration, midi)` triples.

    Returns:
        `(parts, melody_part, notes)`.

    Raises:
        UsageError: the score has no pitched notes, or a note outside `MIDI_PITCHES`.
    """
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    melody = _melody_part(parts)
    if melody is None:
        raise UsageError(f"{name}: no melody (no part with pitched notes)")
    lengths = tied_lengths(melody)
    notes = [
        (float(element.offset), float(length), int(round(max(p.ps for p in element.pitches))))
        for element in _pitched_notes(melody)
        if (length := lengths.get(id(element), element.quarterLength)) > 0
    ]
    if not notes:
        raise UsageError(f"{name}: no melody (no pitched notes)")
    outside = next((midi for _, _, midi in notes if midi not in MIDI_PITCHES), None)
    if outside is not None:
        raise UsageError(f"{name}: the melody has a note at pitch {outside}, outside MIDI's 0..127")
    return parts, melody, sorted(notes)


def tied_lengths(container):
    """The lengths music21's `stripTies` gives the tied notes of a part or stream, by `id` of the note, found
    without changing or copying it: the first note of a tied run lasts the whole run, the others 0.

    `stripTies` merges the same runs on a copy of the part, in time that grows with the square of its notes;
    this follows its rules (`matchByPitch=True`) in one pass over the notes. Like it, a score's parts and a
    stream's voices are followed each on its own, anything else flattened: a tie runs between notes next to each
    other in offset order, whatever their measure or voice.
    """
    if container.hasPartLikeStreams():
        from music21 import stream

        streams = container.getElementsByClass(stream.Stream)
    elif container.hasVoices():
        streams = container.voices
    else:
        return _merge_ties([element for element in container.flatten().notesAndRests if element.quarterLength > 0])
    lengths = {}
    for inner in streams:
        lengths.update(tied_lengths(inner))
    return lengths


def _merge_ties(elements):
    """`tied_lengths` of notes and rests in offset order, each lasting more than 0: `stripTies`'s loop, with its
    run of connected positions kept as a list of indices whose last one says whether the previous is in it."""
    from music21.common.numberTools import opFrac

    lengths = {}
    run = []
    for index, element in enumerate(elements):
        previous = elements[index - 1] if index else None
        connected = bool(run) and run[-1] == index - 1
        tie = getattr(element, "tie", None)
        if tie is not None and tie.type in ("start", "continue"):
            # A start joins the run the previous note is in; a continue joins any run it matches in pitch.
            joins = connected if tie.type == "start" else bool(run) and _tie_ends(previous, element, connected)
            run = [*run, index] if joins else [index]
            continue
        if not _tie_ends(previous, element, connected):
            continue
        first, *later = [elements[position] for position in [*run, index]]
        if later:
            lengths.update((id(other), 0) for other in later)
            lengths[id(first)] = opFrac(first.quarterLength + sum(other.quarterLength for other in later))
        run = []
    return lengths


def _tie_ends(previous, element, connected):
    """Whether `element` closes a tied run (`stripTies`'s `updateEndMatch` with `matchByPitch=True`):
    a single note with a stop tie, or the same pitch(es) as `previous`, `connected` to the run."""
    from music21 import chord, note

    tie = getattr(element, "tie", None)
    if not isinstance(element, chord.Chord) and tie is not None and tie.type == "stop":
        return True
    if previous is None or not connected:
        return False
    if (
        hasattr(previous, "pitch")
        and hasattr(element, "pitch")
        and not isinstance(previous, chord.Chord)
        and not isinstance(element, chord.Chord)
        and previous.pitch == element.pitch
    ):
        return True
    return (
        not isinstance(element, note.Note)
        and hasattr(previous, "pitches")
        and hasattr(element, "pitches")
        and len(previous.pitches) == len(element.pitches)
        and all(
            last.step == pitch.step and last.isEnharmonic(pitch)
            for last, pitch in zip(previous.pitches, element.pitches)
        )
    )


def chord_symbols(score):
    """The `(offset, Chord)` changes of the score's chord symbols (empty without any)."""
    from music21 import harmony

    return [
        (float(symbol.offset), Chord.from_symbol(symbol))
        for symbol in score.flatten().getElementsByClass(harmony.ChordSymbol)
        if not isinstance(symbol, harmony.NoChord) and symbol.pitches
    ]


def score_tempo(score):
    """The first metronome mark's quarter notes a minute, or None."""
    from music21 import tempo

    marks = score.flatten().getElementsByClass(tempo.MetronomeMark)
    return float(marks[0].getQuarterBPM()) if marks and marks[0].number else None


def score_bar_quarters(score, name="score"):
    """The length of a bar of the first time signature (4/4 without one), in quarter notes.

    Raises:
        UsageError: the bar is not a whole number of grid steps (1/64 time: 3/4 of a step), or is longer than
            `MAX_BAR_QUARTERS`.
    """
    signatures = score.flatten().getElementsByClass("TimeSignature")
    if not signatures:
        return 4.0
    signature = signatures[0]
    quarters = fractions.Fraction(signature.barDuration.quarterLength).limit_denominator(1 << 20)
    steps = quarters * GRID
    if steps > MAX_BAR_QUARTERS * GRID or steps < 1 or steps.denominator != 1:
        raise UsageError(
            f"{name}: a bar of {signature.ratioString} lasts {quarters} quarter notes; the model's grid needs a "
            f"whole number of 1/{GRID} quarter notes, at most {MAX_BAR_QUARTERS} ({MAX_BAR_QUARTERS}/4)"
        )
    return float(quarters)


def _pitched_notes(part):
    from music21 import harmony

    return [n for n in part.flatten().notes if n.pitches and not isinstance(n, harmony.ChordSymbol)]


def _melody_part(parts):
    candidates = []
    for part in parts:
        notes = _pitched_notes(part)
        if not notes:
            continue
        pitches = [p.ps for n in notes for p in n.pitches]
        name = (part.partName or "").lower()
        named = any(word in name for word in MELODY_NAMES)
        high_enough = sum(pitches) / len(pitches) >= MIN_MELODY_PITCH or len(parts) == 1
        singles = sum(1 for n in notes if len(n.pitches) == 1)
        candidates.append(((named, high_enough, singles), part))
    return max(candidates, key=lambda candidate: candidate[0], default=(None, None))[1]


def derive_chords(parts, length):
    """Names the harmony of `parts` every DERIVED_CHORD_QUARTERS quarters (pitch classes weighted by time)."""
    from music21 import chord, harmony, stream
    from music21.exceptions21 import Music21Exception

    pitched = [part for part in parts if _pitched_notes(part)]
    if not pitched:
        return []
    chordified = stream.Score(pitched).chordify().flatten().notes
    changes = []
    offset = 0.0
    while offset < length:
        end = offset + DERIVED_CHORD_QUARTERS
        weights, lowest = {}, None
        for element in chordified.getElementsByOffset(
            offset, end, includeEndBoundary=False, includeElementsThatEndAtStart=False
        ):
            overlap = min(end, element.offset + element.quarterLength) - max(offset, element.offset)
            for pitch in element.pitches:
                weights[pitch.pitchClass] = weights.get(pitch.pitchClass, 0) + float(overlap)
                if lowest is None or pitch.ps < lowest.ps:
                    lowest = pitch
        if weights:
            # The four pitch classes sounding longest, spelt over the lowest note, make the chord.
            top = sorted(weights, key=weights.get, reverse=True)[:4]
            if lowest.pitchClass not in top:
                top[-1] = lowest.pitchClass
            pitches = [lowest.midi] + [
                lowest.midi + (pc - lowest.pitchClass) % 12 for pc in top if pc != lowest.pitchClass
            ]
            try:
                symbol = harmony.chordSymbolFromChord(chord.Chord(pitches))
            except (ValueError, Music21Exception):
                # music21 names some chords with no root (D G C: "susaddc") that its own parser then refuses:
                # the chord before sounds on, as where it says "Cannot be identified".
                symbol = None
            if symbol is not None and symbol.pitches and "Cannot" not in symbol.figure:
                changes.append((offset, Chord.from_symbol(symbol)))
        offset = end
    return changes


def expand_paths(paths):
    """Expands files, directories and glob patterns into `(file, explicit)` pairs.

    A directory contributes its music files (`MUSIC_EXTENSIONS`, sorted); `explicit` is True only for a file
    named directly, whose failure is an error rather than a warning.

    Raises:
        UsageError: a path that is neither a file, a directory nor a pattern matching anything; more than
            `MAX_MUSIC_FILES` files; a file over its limit (`check_size`), a `.mxl` whose score says it
            unzips to more than `MAX_MUSIC_FILE_BYTES`, or a score of more than `MAX_CHORD_SYMBOLS` chord symbols.
    """
    expanded = []
    for path in paths:
        if os.path.isdir(path):
            expanded += [
                (os.path.join(path, name), False)
                for name in sorted(os.listdir(path))
                if name.lower().endswith(MUSIC_EXTENSIONS) and os.path.isfile(os.path.join(path, name))
            ]
        elif os.path.isfile(path):
            expanded.append((path, True))
        elif glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise UsageError(f"no files match {path}")
            expanded += [(match, False) for match in matches if os.path.isfile(match)]
        else:
            raise UsageError(f"file not found: {path}")
        if len(expanded) > MAX_MUSIC_FILES:
            raise UsageError(f"more than {MAX_MUSIC_FILES:,} music files given; that is the limit")
    for path, _ in expanded:
        check_size(path, "solo")
        if _compressed(path):
            with _open_compressed(path) as archive:
                _compressed_score(archive, path)
        check_chord_symbols(path)
    return expanded


def check_chord_symbols(path, text=None):
    """Refuses a MusicXML score of more than `MAX_CHORD_SYMBOLS` chord symbols, before music21 reads it.

    Args:
        path: the file (a MIDI file passes: its chords are named every `DERIVED_CHORD_QUARTERS`, so its length
            bounds them).
        text: its score's bytes where they are already read (a `.mxl` unzipped), else read here.
    """
    if text is None:
        if path.lower().endswith(MIDI_EXTENSIONS):
            return
        if _compressed(path):
            text = unzip_musicxml(path)
        else:
            try:
                with open(path, "rb") as handle:
                    text = handle.read(MAX_MUSIC_FILE_BYTES + 1)
            except OSError:  # refused, or skipped in a folder, where it is parsed
                return
    if text.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = text.decode("utf-16", "replace").encode()
    count = sum(1 for _ in _HARMONY.finditer(text))
    if count > MAX_CHORD_SYMBOLS:
        raise UsageError(f"{path}: {count:,} chord symbols; the limit is {MAX_CHORD_SYMBOLS:,} a score")


def check_size(path, what):
    """Returns the size of a music file; refuses one over `MAX_MIDI_FILE_BYTES` (a MIDI file, by its extension, as
    music21 tells them apart) or `MAX_MUSIC_FILE_BYTES` (MusicXML), naming the limit for a MIDI or MusicXML `what`."""
    size = os.path.getsize(path)
    midi = path.lower().endswith(MIDI_EXTENSIONS)
    limit = MAX_MIDI_FILE_BYTES if midi else MAX_MUSIC_FILE_BYTES
    if size > limit:
        raise UsageError(
            f"{path} is {size:,} bytes; the limit for a {'MIDI' if midi else 'MusicXML'} {what} is {limit:,}"
        )
    return size


def read_solo(path):
    """Parses one MIDI/MusicXML file into a `Solo`.

    Raises:
        UsageError: the file is empty, not music, corrupt, or has no melody or chords.
    """
    return solo_from_score(parse_music(path), os.path.basename(path))


def parse_music(path):
    """Parses a MIDI/MusicXML file with music21; a compressed one (`.mxl`) is unzipped here (`unzip_musicxml`).

    Raises:
        UsageError: the file is missing, unreadable, empty, over its limit (`check_size`), not music, corrupt,
            unzips to more than `MAX_MUSIC_FILE_BYTES`, or holds more than `MAX_CHORD_SYMBOLS` chord symbols.
    """
    from music21 import converter

    if not os.path.isfile(path):
        raise UsageError(f"file not found: {path}")
    if check_size(path, "file") == 0:
        raise UsageError(f"{path}: empty file")
    check_readable(path, "MIDI/MusicXML file")
    text = unzip_musicxml(path) if _compressed(path) else None
    check_chord_symbols(path, text)
    try:
        # forceSource: music21 would otherwise read and write a pickle of every file in its scratch directory.
        # quantizePost off: music21 would snap MIDI onsets and lengths to its own grid, moving or merging the
        # sixteenth triplets `generate` writes; `grammar.quantise` rounds to the app's grid instead.
        unquantised = {"quantizePost": False} if path.lower().endswith(MIDI_EXTENSIONS) else {}
        with music21_scratch():
            score = (
                converter.parse(path, forceSource=True, **unquantised)
                if text is None
                else converter.parseData(text, format="musicxml")
            )
    except Exception as error:  # noqa: BLE001  music21 raises a dozen kinds (zip, XML, MIDI, format) for a broken file.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"{path}: not a readable MIDI/MusicXML file ({reason[:120]})") from None
    return score


@contextlib.contextmanager
def music21_scratch():
    """Points music21's scratch directory (`environment.getRootTempDir`, which it creates as `/tmp/music21`
    on first use) at a new temporary directory for the block, and removes that directory on the way out."""
    from music21 import environment

    settings = environment.Environment()
    previous = settings["directoryScratch"]
    with tempfile.TemporaryDirectory(prefix="music21-") as scratch:
        settings["directoryScratch"] = pathlib.Path(scratch)  # a str would be XML-escaped
        try:
            yield scratch
        finally:
            settings["directoryScratch"] = previous


def unzip_musicxml(path):
    """The MusicXML (bytes) of a compressed MusicXML file, unzipped within `MAX_MUSIC_FILE_BYTES`.

    music21 would unzip it whole into memory, and a 3 MB `.mxl` can unzip to gigabytes.

    Raises:
        UsageError: no score in it, a score over the limit (by its header or by what it unzips to), a corrupt file.
    """
    unzipped = io.BytesIO()
    with _open_compressed(path) as archive:
        member = _compressed_score(archive, path)
        unzip_member(archive, member, unzipped, MAX_MUSIC_FILE_BYTES, f"{path}: its score {member}")
    return unzipped.getvalue()


def _compressed(path):
    """Whether `path` is a compressed MusicXML file (music21 too takes only a `.mxl` that is a zip for one)."""
    return path.lower().endswith(".mxl") and zipfile.is_zipfile(path)


@contextlib.contextmanager
def _open_compressed(path):
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except (OSError, zipfile.BadZipFile) as error:
        raise UsageError(f"{path}: not a readable MIDI/MusicXML file ({error})") from None


def _compressed_score(archive, path):
    """The member of a compressed MusicXML file that holds the score, refused if it says it is over the limit.

    It is the member music21 takes: the first outside `META-INF/` whose name ends in `.xml`, `.musicxml` or
    `.mxl`.
    """
    scores = [
        name
        for name in archive.namelist()
        if "META-INF" not in name and (name == ".xml" or name.lower().endswith((".xml", ".musicxml", ".mxl")))
    ]
    if not scores:
        raise UsageError(f"{path}: no MusicXML score in the compressed file")
    check_member_size(archive, scores[0], MAX_MUSIC_FILE_BYTES, f"{path}: its score {scores[0]}")
    return scores[0]


def load_solos(paths, cache_dir="auto", progress=True):
    """Loads the solos in `paths` (files, directories, globs), from the cache where it has them.

    Files inside a directory or glob that cannot be used are skipped with a warning on stderr.

    Args:
        paths: a list of paths or patterns.
        cache_dir: where parsed solos are kept as JSON ("auto": `$JAZZ_CACHE_DIR`, else the user's cache
            folder; None: no cache).
        progress: show a progress bar while parsing files that are not cached (on stderr, if a terminal).

    Returns:
        A list of `Solo`s in file order.

    Raises:
        UsageError: a file named directly is unusable, or no usable solo is left.
    """
    if cache_dir == "auto":
        cache_dir = os.environ.get("JAZZ_CACHE_DIR") or user_cache("jazz")
    keyed = [(path, explicit, sha256_of(path)) for path, explicit in expand_paths(paths)]
    cached = {key: read_json(_cache_path(cache_dir, key)) for _, _, key in keyed} if cache_dir else {}
    to_parse = sum(1 for _, _, key in keyed if cached.get(key) is None)
    solos, skipped = [], 0
    with Progress(to_parse, "parsing", "file", show=progress and to_parse) as bar:
        if bar.enabled and cache_dir:
            bar.print(f"parsed files are cached in {printable(os.path.normpath(cache_dir))}")
        for path, explicit, key in keyed:
            item = cached.get(key)
            if item is None:
                try:
                    item = read_solo(path).to_json()
                except UsageError as error:
                    if explicit:
                        raise
                    item = {"error": str(error)}
                if cache_dir:
                    _write_cache(cache_dir, key, item)
                bar.update()
            if "error" in item:
                if explicit:
                    raise UsageError(item["error"])
                bar.print(f"warning: skipping {printable(item['error'])}")
                skipped += 1
            else:
                solo = Solo.from_json(item)
                solo.name = os.path.basename(path)
                solos.append(solo)
    if not solos:
        raise UsageError(
            f"no usable MIDI/MusicXML solo in {' '.join(paths)}" + (f" ({skipped} file(s) skipped)" if skipped else "")
        )
    return solos


def _cache_path(cache_dir, key):
    return os.path.join(cache_dir, f"{key}-v{CACHE_VERSION}.json")


def _write_cache(cache_dir, key, item):
    # A read-only checkout still works, only without the cache.
    with contextlib.suppress(UsageError, OSError), atomic_file(_cache_path(cache_dir, key), encoding="utf-8") as handle:
        json.dump(item, handle)


def corpus_checksum(paths):
    """sha256 of the sorted sha256s of the music files in `paths`: identifies a training set."""
    digests = sorted(sha256_of(path) for path, _ in expand_paths(paths))
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
