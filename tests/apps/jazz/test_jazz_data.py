import fractions
import io
import os
import sys
import zipfile

import hypothesis
import hypothesis.strategies as st
import pytest
from music21 import chord, harmony, note, stream, tie

from apps.common.errors import UsageError
from apps.jazz import data

from jazz_scores import CHORDS, MELODY, make_score


@pytest.fixture
def corpus_dir(tmp_path, tiny_score):
    directory = tmp_path / "solos"
    directory.mkdir()
    tiny_score.write("musicxml", fp=str(directory / "tiny.musicxml"))
    (directory / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06 this is not MIDI")
    (directory / "empty.mxl").write_bytes(b"")
    (directory / "notes.txt").write_text("ignored: not a music file name")
    return directory


def test_musicxml_solo_keeps_notes_chords_and_tempo(corpus_dir, tmp_path):
    (solo,) = data.load_solos([str(corpus_dir / "tiny.musicxml")], cache_dir=None, progress=False)
    assert [note[2] for note in solo.notes] == [midi for _, _, midi in MELODY]
    assert [offset for offset, _, _ in solo.notes] == pytest.approx([offset for offset, _, _ in MELODY])
    assert [(offset, chord.figure) for offset, chord in solo.timeline] == CHORDS
    assert solo.tempo == 120 and solo.bar_quarters == 4


def test_directory_skips_unusable_files_with_a_warning(corpus_dir, capsys):
    solos = data.load_solos([str(corpus_dir)], cache_dir=None, progress=False)
    assert [solo.name for solo in solos] == ["tiny.musicxml"]
    warnings = capsys.readouterr().err
    assert "corrupt.mid" in warnings and "empty.mxl" in warnings and "notes.txt" not in warnings


def test_nothing_usable_is_an_error(corpus_dir):
    os.remove(corpus_dir / "tiny.musicxml")
    with pytest.raises(UsageError, match="no usable"):
        data.load_solos([str(corpus_dir)], cache_dir=None, progress=False)


@pytest.mark.parametrize("name", ["corrupt.mid", "empty.mxl"])
def test_a_named_unusable_file_is_an_error(corpus_dir, name):
    with pytest.raises(UsageError, match=name):
        data.load_solos([str(corpus_dir / name)], cache_dir=None, progress=False)


def test_missing_paths_and_empty_globs_are_errors(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        data.load_solos([str(tmp_path / "nope.mid")], cache_dir=None)
    with pytest.raises(UsageError, match="no files match"):
        data.load_solos([str(tmp_path / "*.mid")], cache_dir=None)


def test_a_score_without_melody_is_an_error(tmp_path):
    score = make_score([(0, 4, 60)], [(0, "C7")])
    for element in list(score.recurse().getElementsByClass(note.Note)):
        element.activeSite.remove(element)
    with pytest.raises(UsageError, match="no melody"):
        data.solo_from_score(score, "chords-only")


def test_midi_without_chord_symbols_gets_chords_from_the_accompaniment(tmp_path):
    path = tmp_path / "comp.mid"
    make_score(MELODY, CHORDS, accompaniment=True).write("midi", fp=str(path))
    (solo,) = data.load_solos([str(path)], cache_dir=None, progress=False)
    assert len(solo.notes) == len(MELODY)
    qualities = [solo.timeline.chord_at(offset).quality for offset in (0, 2, 4, 6, 8)]
    assert qualities == ["m7", "7", "maj7", "maj7", "maj7"]
    assert solo.timeline.chord_at(0).root == 2 and solo.timeline.chord_at(2).root == 7


def test_the_cache_skips_parsing_the_second_time(corpus_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = data.load_solos([str(corpus_dir)], cache_dir=str(cache), progress=True)
    # Three entries: the solo and the two unusable files (so they are not re-parsed either).
    assert len(os.listdir(cache)) == 3

    def no_parsing(path):
        raise AssertionError(f"parsed {path} again")

    monkeypatch.setattr(data, "read_solo", no_parsing)
    second = data.load_solos([str(corpus_dir)], cache_dir=str(cache), progress=True)
    assert [s.to_json() for s in second] == [s.to_json() for s in first]


def test_corpus_checksum_depends_on_content_only(corpus_dir, tmp_path):
    before = data.corpus_checksum([str(corpus_dir)])
    (corpus_dir / "notes.txt").write_text("changed, but not music")
    assert data.corpus_checksum([str(corpus_dir)]) == before
    (corpus_dir / "empty.mxl").write_bytes(b"now something")
    assert data.corpus_checksum([str(corpus_dir)]) != before


def test_reading_music_leaves_nothing_in_music21s_scratch_directory(tmp_path, tiny_score, monkeypatch):
    """music21 would keep a pickle of every file it parses in its scratch directory (`/tmp/music21/`), and
    create that directory; ours is a temporary one, removed on the way out, Ctrl-C included."""
    import tempfile

    from music21 import converter, environment

    path = tmp_path / "solo.musicxml"
    tiny_score.write("musicxml", fp=str(path))
    music21s_pickle = converter.PickleFilter(str(path)).getPickleFp(zipType="gz")  # in music21's scratch
    ours = tmp_path / "tmp"
    ours.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(ours))
    data.parse_music(str(path))
    assert not music21s_pickle.exists()
    assert os.listdir(ours) == []

    scratches = []

    def interrupted(*args, **kwargs):
        scratches.append(environment.Environment().getRootTempDir())
        raise KeyboardInterrupt

    monkeypatch.setattr(converter, "parse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.parse_music(str(path))
    assert scratches[0].parent == ours and os.listdir(ours) == []
    assert environment.Environment()["directoryScratch"] is None


def test_parsed_solos_are_cached_in_the_users_cache_folder(solos_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("JAZZ_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data.load_solos([str(solos_dir / "solo0.musicxml")], progress=False)
    assert len(os.listdir(tmp_path / "sequence-models" / "jazz")) == 1


def test_parsing_progress_goes_to_stderr_and_is_drawn_only_on_a_terminal(solos_dir, capsys, monkeypatch):
    from apps.common import progress

    data.load_solos([str(solos_dir / "solo1.musicxml")], cache_dir=None, progress=True)
    assert capsys.readouterr() == ("", "")  # redirected: no bar, no count

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    data.load_solos([str(solos_dir / "solo2.musicxml")], cache_dir=None, progress=True)
    assert "parsing" in terminal.getvalue() and "1/1 file" in terminal.getvalue()
    assert capsys.readouterr().out == ""


def write_mxl(path, xml=None, zeros=0):
    """A compressed MusicXML file: a container and one score, `xml` bytes or `zeros` zero bytes (a zip bomb: a
    few KiB that unzip to `zeros`)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", '<container><rootfile full-path="solo.xml"/></container>')
        with archive.open("solo.xml", "w") as handle:
            if xml is not None:
                handle.write(xml)
            for start in range(0, zeros, 1 << 20):
                handle.write(bytes(min(1 << 20, zeros - start)))
    return str(path)


def test_a_compressed_solo_is_unzipped_within_the_limit_before_music21_reads_it(tiny_score, tmp_path):
    plain = tiny_score.write("musicxml", fp=str(tmp_path / "tiny.musicxml"))
    compressed = write_mxl(tmp_path / "tiny.mxl", plain.read_bytes())
    assert data.read_solo(compressed).to_json() == {**data.read_solo(str(plain)).to_json(), "name": "tiny.mxl"}
    bomb = write_mxl(tmp_path / "bomb.mxl", zeros=data.MAX_MUSIC_FILE_BYTES + 1)
    assert os.path.getsize(bomb) < 1 << 20
    message = f"bomb.mxl: its score solo.xml unzips to 16,777,217 bytes; the limit is {data.MAX_MUSIC_FILE_BYTES:,}"
    for read in (lambda: data.expand_paths([str(tmp_path)]), lambda: data.read_solo(bomb)):
        with pytest.raises(UsageError, match=message):
            read()


def test_a_note_outside_midi_pitches_is_refused(tmp_path):
    path = str(tmp_path / "high.musicxml")
    make_score([(0, 1, 60), (1, 1, 160)], [(0, "C7")]).write("musicxml", fp=path)
    with pytest.raises(UsageError, match="high.musicxml: the melody has a note at pitch 160, outside MIDI's 0..127"):
        data.read_solo(path)


# Spellings that stripTies compares by name (a note) or by step and sound (a chord): B#3 sounds as C4, D-4 as C#4.
SPELLINGS = ["C4", "B#3", "C#4", "D-4"]
TIES = [None, "start", "continue", "stop"]
ELEMENTS = st.tuples(
    st.sampled_from(["note", "note", "chord", "chord", "rest", "grace", "symbol", "sounding symbol"]),
    st.sampled_from([0.5, 1.0, 1.5, 2.5, 4.5, fractions.Fraction(1, 3)]),
    st.lists(st.tuples(st.sampled_from(SPELLINGS), st.sampled_from(TIES)), min_size=1, max_size=2),
    st.sampled_from(TIES),
)


def _held(spelling, tie_type=None):
    """An element of `ELEMENTS` lasting a quarter note: a note (`spelling` a name) or chord (a list of names)."""
    if isinstance(spelling, str):
        return ("note", 1.0, [(spelling, None)], tie_type)
    return ("chord", 1.0, [(name, None) for name in spelling], tie_type)


def _element(kind, length, pitches, tie_type):
    """A note, chord (each member its own tie, unless the chord has one), rest, grace note or chord symbol (as
    MusicXML gives it, lasting 0, or sounding: stripTies then counts it among the notes)."""
    if kind == "rest":
        return note.Rest(quarterLength=length)
    if kind.endswith("symbol"):
        return harmony.ChordSymbol("C7", quarterLength=length if kind == "sounding symbol" else 0)
    if kind == "chord":
        element = chord.Chord([note.Note(name, tie=tie.Tie(t) if t else None) for name, t in pitches])
    else:
        element = note.Note(pitches[0][0])
    element.quarterLength = length
    if tie_type and (kind != "chord" or pitches[0][1] is None):
        element.tie = tie.Tie(tie_type)
    return element.getGrace() if kind == "grace" else element


def _stripped(part):
    """The melody's triples as music21's own un-tying gives them, which `melody_notes` must give."""
    return sorted(
        (float(element.offset), float(element.quarterLength), int(round(max(p.ps for p in element.pitches))))
        for element in part.stripTies().flatten().notes
        if element.pitches and not isinstance(element, harmony.ChordSymbol) and element.quarterLength > 0
    )


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    voices=st.lists(st.lists(ELEMENTS, max_size=12), min_size=1, max_size=2),
    layout=st.sampled_from(["measures", "voices in measures", "voices in the part", "streams in the part"]),
)
# What stripTies merges, and what not: a start joins a run only from the note before; a continue in another pitch
# starts a run of its own; a note, and a chord member, ends a run in the same spelling only; a note does not end a
# chord's run; voices of a part, and streams in it, are un-tied each on their own, voices in measures together.
@hypothesis.example([[_held("C4", "start"), _held("C#4"), _held("C4", "start"), _held("C4", "stop")]], "measures")
@hypothesis.example([[_held("C4", "start"), _held("C4")], [_held("C#4")]], "voices in the part")
@hypothesis.example([[_held("C4", "start"), _held("C4")], [_held("C#4")]], "voices in measures")
@hypothesis.example([[_held("C4", "start"), _held("C4")], [_held("C#4")]], "streams in the part")
@hypothesis.example([[_held("C4", "start"), _held("C#4", "continue"), _held("C#4", "stop")]], "voices in the part")
@hypothesis.example([[_held("C4", "start"), _held("B#3")]], "measures")
@hypothesis.example([[_held(["C4", "C#4"], "start"), _held(["B#3", "D-4"])]], "measures")
@hypothesis.example([[_held(["C4"], "start"), _held("C4")]], "measures")
def test_tied_notes_merge_as_music21s_strip_ties_merges_them(voices, layout):
    # "measures": one voice cut into 4/4 bars, the notes across a bar line tied (start, continue, stop) by music21.
    part = stream.Part()
    if layout == "measures":
        for item in voices[0]:
            part.append(_element(*item))
        part.makeMeasures(inPlace=True)
        part.makeTies(inPlace=True)
    elif layout in ("voices in the part", "streams in the part"):
        for items in voices:
            voice = stream.Voice() if layout == "voices in the part" else stream.Stream()
            for item in items:
                voice.append(_element(*item))
            part.insert(0, voice)
    else:
        for number in (1, 2):  # the same voices in two bars, so that a note can be tied into the next bar
            measure = stream.Measure(number=number)
            for index, items in enumerate(voices):
                voice = stream.Voice(id=str(index))
                for item in items:
                    voice.append(_element(*item))
                measure.insert(0, voice)
            part.append(measure)
    expected = _stripped(part)
    if not expected:
        with pytest.raises(UsageError, match="no melody"):
            data.melody_notes(part)
    else:
        assert data.melody_notes(part)[2] == expected


def test_a_midi_file_has_its_own_lower_size_limit(tmp_path):
    # Sparse files: only their sizes count.
    def sized(name, size):
        path = tmp_path / name
        with open(path, "wb") as handle:
            handle.truncate(size)
        return str(path)

    limit = data.MAX_MIDI_FILE_BYTES
    assert limit < data.MAX_MUSIC_FILE_BYTES
    at_limit, over = sized("solo.mid", limit), sized("SOLO.MIDI", limit + 1)
    xml = sized("solo.musicxml", data.MAX_MUSIC_FILE_BYTES)
    assert [path for path, _ in data.expand_paths([at_limit, xml])] == [at_limit, xml]
    with pytest.raises(UsageError, match=rf"SOLO.MIDI is {limit + 1:,} bytes; the limit for a MIDI solo is {limit:,}$"):
        data.expand_paths([over])
    with pytest.raises(UsageError, match=rf"SOLO.MIDI is {limit + 1:,} bytes; the limit for a MIDI file is {limit:,}$"):
        data.parse_music(over)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_score_of_more_chord_symbols_than_the_limit_is_refused_before_music21_reads_it(
    tmp_path, monkeypatch, encoding
):
    monkeypatch.setattr(data, "MAX_CHORD_SYMBOLS", 2)
    symbol = "<harmony><root><root-step>C</root-step></root><kind>major</kind></harmony>"
    path = tmp_path / "symbols.musicxml"
    path.write_text(
        f'<?xml version="1.0" encoding="{encoding}"?><score-partwise>{symbol * 3}</score-partwise>', encoding
    )
    with pytest.raises(UsageError, match="3 chord symbols; the limit is 2 a score"):
        data.expand_paths([str(path)])
    path.write_text(
        f'<?xml version="1.0" encoding="{encoding}"?><score-partwise>{symbol * 2}</score-partwise>', encoding
    )
    data.check_chord_symbols(str(path))
