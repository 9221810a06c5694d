"""apps.jazz: generate a jazz solo over any chord progression, with an LSTM and music21.

    python -m apps.jazz generate                                   # 12 bars of F blues from saved_models/jazz
    python -m apps.jazz generate --chords "Dm7 G7 | Cmaj7" --measures 8 --tempo 140 --seed 3 --plot --musicxml
    python -m apps.jazz train --midi ../shared/data/jazz/wjazzd/mxl --out saved_models/jazz
    python -m apps.jazz evaluate --midi solo.mid other/*.mxl [--model M] [--json]
    python -m apps.jazz evaluate --reference real/*.mxl [--bars 32] [--model M] [--json]
    python -m apps.jazz export --out /tmp/jazz-sampler

Modules: `data` (files -> melody + chords, cached), `chords` (chord symbols, chord-scale table,
progressions), `grammar` (tokens and their realisation), `conditioning` (the chords and bar position a
conditioned model sees at each step), `config` (the training hyper-parameters), `model`, `train`, `generate`
(`SoloSampler`), `evaluate`, `reference` (generated against real solos on their own changes), `export`, `plot`,
`cli`.
"""

from apps.common.registry import register

register("jazz", __name__)
