"""The studio's page: a `gr.Blocks` with a tab per app, whose buttons call `apps.studio.tabs`.

A request's mistake (`UsageError`) is shown as its one line (`tabs.public`: no folder of the server) in the
tab's message box; the other outputs are cleared. Each button has a fixed `api_name` (`jazz_take`,
`sentiment_predict`, `dinos_sample`, `dinos_look`) for `gradio_client`. A session's takes and heat maps are
written to a folder of its own (`session_folder`), removed as soon as the session ends (its page closed, its
client gone: Gradio's `unload`); Gradio's copies of outputs, if any, are removed by `delete_cache`.

Import it only after `GRADIO_ANALYTICS_ENABLED` is set (`apps.studio.cli` does): Gradio reads it on import.
"""

import contextlib
import hashlib
import html
import os
import secrets
import shutil
import tempfile
import threading
import time

import gradio as gr

from apps.common.errors import UsageError
from apps.jazz import swing as jazz_swing
from apps.studio import tabs

CONCURRENCY = 2
"""Requests of one button answered at once (2 cores); the others wait in the queue."""
QUEUE_SIZE = 16
"""Requests waiting at most; one more is told the queue is full (Gradio's "busy" answer)."""
SESSION_PREFIX = "session-"
STALE_S = 60
"""Seconds after which a session's earlier answer (its files) goes, once a new request of the tab comes."""
_ACTIVE = set()
"""The folders of the requests being answered."""
_ACTIVE_LOCK = threading.Lock()
CACHE = (300, 900)
"""Gradio's `delete_cache`: every 5 minutes, its copies of outputs older than 15 minutes are removed."""


def _message(error):
    return f"**Error:** {html.escape(tabs.public(str(error)))}"


def session_folder(session_hash):
    """The folder of a session's files, in the temporary folder: named by a digest of Gradio's session hash,
    which the visitor's page chooses, so that no name it sends reaches the file system."""
    digest = hashlib.sha256(session_hash.encode()).hexdigest()[:24] if session_hash else secrets.token_hex(12)
    return os.path.join(tempfile.gettempdir(), f"{SESSION_PREFIX}{digest}")


@contextlib.contextmanager
def _request_folder(request, tab):
    """A folder of its own for one request of `tab`, in its session's folder, and the tab's earlier folders of
    the session removed once no request is writing them and they are `STALE_S` old: the page shows the latest
    answer, while a client may still be fetching the one before, or send two requests at once."""
    session = session_folder(request.session_hash)
    os.makedirs(session, exist_ok=True)
    with _ACTIVE_LOCK:
        for name in os.listdir(session):
            earlier = os.path.join(session, name)
            if name.startswith(f"{tab}-") and earlier not in _ACTIVE:
                with contextlib.suppress(FileNotFoundError):
                    if time.time() - os.path.getmtime(earlier) > STALE_S:
                        shutil.rmtree(earlier, ignore_errors=True)
        folder = tempfile.mkdtemp(prefix=f"{tab}-", dir=session)
        _ACTIVE.add(folder)
    try:
        yield folder
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(folder)


def _end_session(request: gr.Request):  # Gradio passes the request by this annotation
    shutil.rmtree(session_folder(request.session_hash), ignore_errors=True)


def _jazz_tab(jazz):
    gr.Markdown(
        "Chords typed (a bar each, or bars split by `|`), an example form, or a lead sheet uploaded "
        f"(`.musicxml`, `.mxl`, `.mid`); at most {tabs.MAX_BARS} bars and {tabs.MAX_TAKES} takes."
    )
    with gr.Row():
        chords = gr.Textbox(label="Chords", value=tabs.EXAMPLE_FORMS["F blues"], elem_id="jazz-chords", scale=3)
        form = gr.Dropdown(list(tabs.EXAMPLE_FORMS), label="Example forms", value=None, scale=1)
    primer = gr.Textbox(label="Primer (notes such as C5 E5:1/2 G5:1/2)", elem_id="jazz-primer")
    with gr.Accordion("Uploads: a lead sheet, a primer", open=False), gr.Row():
        lead_sheet = gr.File(label="Lead sheet", file_types=list(tabs.LEAD_SHEET_EXTENSIONS), type="filepath")
        primer_file = gr.File(label="Primer file", file_types=[".mid", ".midi", ".musicxml", ".mxl"], type="filepath")
    with gr.Row():
        bars = gr.Number(label="Bars (0: the form once)", value=0, precision=0, elem_id="jazz-bars")
        tempo = gr.Number(label="Tempo (0: the lead sheet's or the model's)", value=0)
        seed = gr.Number(label="Seed", value=0, precision=0)
        temperature = gr.Number(label="Temperature", value=1.0)
        top_k = gr.Number(label="Top-k (0: all)", value=0, precision=0)
        count = gr.Slider(1, tabs.MAX_TAKES, value=1, step=1, label="Takes")
        keep_primer = gr.Checkbox(label="Play the primer", value=True)
        musicxml = gr.Checkbox(label="MusicXML too")
        # The command line's range in hundredths: 2/3 is 0.67 here.
        swing = gr.Slider(
            jazz_swing.STRAIGHT,
            round(jazz_swing.MAX - 0.01, 2),
            value=jazz_swing.DEFAULT,
            step=0.01,
            label="Swing (0.5 straight, 0.67 triplet feel)",
        )
    button = gr.Button("Generate", variant="primary", elem_id="jazz-generate")
    message = gr.Markdown(elem_id="jazz-message")
    if jazz.no_audio:
        gr.Markdown(f"*{html.escape(tabs.public(jazz.no_audio))}*")
    slots = []
    for index in range(tabs.MAX_TAKES):
        with gr.Group(visible=False) as group:
            about = gr.Markdown(elem_id=f"jazz-take-{index}")
            audio = gr.Audio(type="filepath", label="Take", elem_id=f"jazz-audio-{index}", interactive=False)
            roll = gr.Image(type="filepath", label="Piano roll", elem_id=f"jazz-roll-{index}", interactive=False)
            downloads = gr.File(label="Downloads", file_count="multiple", interactive=False)
        slots.append((group, about, audio, roll, downloads))
    form.change(lambda name: tabs.EXAMPLE_FORMS.get(name) or gr.update(), form, chords, api_visibility="private")

    def take(request: gr.Request, *inputs):
        try:
            with _request_folder(request, "jazz") as folder:
                takes = jazz.takes(folder, *inputs)
        except UsageError as error:
            return [_message(error)] + [gr.update(visible=False)] * (5 * tabs.MAX_TAKES)
        updates = []
        for index in range(tabs.MAX_TAKES):
            if index >= len(takes):
                updates += [gr.update(visible=False), None, None, None, None]
                continue
            item = takes[index]
            shares = ", ".join(f"{kind} tones {share:.0%}" for kind, share in item["shares"].items())
            about = (
                f"**Take {index + 1}** (seed {item['seed']}): {item['bars']} bars at {item['tempo']:g} bpm; {shares}"
            )
            files = [path for path in (item["midi"], item["musicxml"]) if path]
            updates += [gr.update(visible=True), about, item["wav"], item["png"], files]
        return [""] + updates

    button.click(
        take,
        [
            chords,
            lead_sheet,
            primer,
            primer_file,
            bars,
            tempo,
            seed,
            temperature,
            top_k,
            count,
            keep_primer,
            musicxml,
            swing,
        ],
        [message] + [component for slot in slots for component in slot],
        api_name="jazz_take",
    )


def _sentiment_tab(sentiment):
    gr.Markdown(
        f"One sentence a line, at most {tabs.MAX_TEXT_CHARS:,} characters: the label, stars and class "
        "probabilities, and each word coloured by its integrated-gradients share, green for the label, red against."
    )
    text = gr.Textbox(label="Text", lines=4, elem_id="sentiment-text")
    bundle = gr.Radio(list(sentiment.models), value=next(iter(sentiment.models)), label="Model")
    button = gr.Button("Predict", variant="primary", elem_id="sentiment-predict")
    message = gr.Markdown(elem_id="sentiment-message")
    answer = gr.HTML(elem_id="sentiment-answer")

    def predict(text, bundle):
        try:
            results = sentiment.predict(text, bundle)
        except UsageError as error:
            return _message(error), ""
        return "", "".join(_answer_html(result) for result in results)

    button.click(predict, [text, bundle], [message, answer], api_name="sentiment_predict")


def _answer_html(result):
    stars = f" {'★' * result['stars']}{'☆' * (5 - result['stars'])}" if result["stars"] else ""
    probabilities = " ".join(f"{html.escape(name)} {p:.3f}" for name, p in result["probabilities"].items())
    return (
        f'<div class="studio-answer"><b>{html.escape(result["label"])}</b>{stars} '
        f"<small>({probabilities})</small><br>{tabs.words_html(result['explanation'])}</div>"
    )


def _dinos_tab(dinos):
    gr.Markdown(f"Invented dinosaur names, at most {tabs.MAX_NAMES} a request, with their bits per character.")
    with gr.Row():
        n = gr.Number(label="How many", value=10, precision=0, elem_id="dinos-n")
        temperature = gr.Number(label="Temperature", value=1.0)
        seed = gr.Textbox(label="Seed (empty: random)")
        novel = gr.Checkbox(label="Novel only (not in the training list)")
    button = gr.Button("Sample", variant="primary", elem_id="dinos-sample")
    message = gr.Markdown(elem_id="dinos-message")
    names = gr.Dataframe(headers=["name", "bits per character"], elem_id="dinos-names", interactive=False)

    def sample(n, temperature, novel, seed):
        try:
            used, rows = dinos.sample(n, temperature, novel, seed)
        except UsageError as error:
            return _message(error), None
        return f"seed {used}", [[name, round(bits, 3)] for name, bits in rows]

    button.click(sample, [n, temperature, novel, seed], [message, names], api_name="dinos_sample")
    _look_inside(dinos, names)


def _look_inside(dinos, names):
    gr.Markdown(
        "## Look inside\nA name read character by character, as `python -m apps.dinos inspect NAME --plot` shows "
        "it: the probability of each next character, and heat maps of each gate and of the memory cell c⟨t⟩ for "
        "every unit (units sorted by when they saturate). Type a name or click one above."
    )
    with gr.Row():
        name = gr.Textbox(label="Name", elem_id="dinos-look-name", scale=3)
        button = gr.Button("Look inside", elem_id="dinos-look", scale=1)
    message = gr.Markdown(elem_id="dinos-look-message")
    heat_maps = gr.Image(type="filepath", label="Gates and memory cell", elem_id="dinos-heat-maps", interactive=False)
    steps = gr.Dataframe(
        headers=["read", "next", "P(next)", "likeliest next"], elem_id="dinos-steps", interactive=False
    )

    def pick(event: gr.SelectData):  # Gradio passes the click by this annotation
        return event.row_value[0]

    names.select(pick, None, name, api_visibility="private")

    def look(request: gr.Request, name):
        try:
            with _request_folder(request, "look") as folder:
                report = dinos.inspect(folder, name)
        except UsageError as error:
            return _message(error), None, None
        rows = [
            [read, target, round(p_next, 3), "  ".join(f"{char} {p:.3f}" for char, p in top)]
            for read, target, p_next, top in report["steps"]
        ]
        units = "; ".join(
            f"layer {number}, {feature}: "
            + (", ".join(f"unit {unit} r={r:+.2f}" for unit, r in found) or "none varies")
            for number, feature, found in report["units"]
        )
        return f"Units whose c⟨t⟩ follows {report['name']!r} (Pearson r): {units}", report["png"], rows

    button.click(look, [name], [message, heat_maps, steps], api_name="dinos_look")


def build(jazz, sentiment, dinos, concurrency=CONCURRENCY, queue_size=QUEUE_SIZE):
    """The studio's `gr.Blocks`: requests of one button answered `concurrency` at once, at most `queue_size`
    waiting."""
    with gr.Blocks(title="sequence-models studio", analytics_enabled=False, delete_cache=CACHE) as demo:
        gr.Markdown("# sequence-models studio")
        with gr.Tab("Jazz", elem_id="tab-jazz"):
            _jazz_tab(jazz)
        with gr.Tab("Sentiment", elem_id="tab-sentiment"):
            _sentiment_tab(sentiment)
        with gr.Tab("Dinos", elem_id="tab-dinos"):
            _dinos_tab(dinos)
        demo.unload(_end_session)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return demo
