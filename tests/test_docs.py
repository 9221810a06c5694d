"""The documentation states the present and its links lead somewhere.

Every relative link in README.md, docs/*.md, benchmarks/README.md and saved_models/*/README.md names a file or
folder of the repository, and every `#anchor` a heading of its target (GitHub's rule: lower-case, punctuation
dropped, spaces to hyphens, -1, -2... for repeats). Code (layers/, apps/) carries no dates, speed ratios or
history, and each model card stays short.
"""

import collections
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = sorted(
    [ROOT / "README.md", ROOT / "benchmarks" / "README.md"]
    + list((ROOT / "docs").glob("*.md"))
    + list((ROOT / "saved_models").glob("*/README.md"))
)
MODEL_CARDS = sorted((ROOT / "saved_models").glob("*/README.md"))

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HISTORY = re.compile(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}|last stop|this stop|issue [0-9]|[0-9]\.[0-9]+x|measured")


def prose_lines(text):
    """The lines outside fenced code blocks, with their numbers."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def anchor(heading):
    """GitHub's anchor of a heading's text: links reduced to their text, lower-cased, every character but
    letters, digits, `_`, `-` and spaces dropped, spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path):
    seen = collections.Counter()
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            slug = anchor(match.group(2))
            found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return found


def broken_links(path, root=ROOT):
    """`line N: target (why)` for each relative link of a Markdown file that leads nowhere."""
    broken = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(CODE_SPAN.sub("code", line)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto:
            file_part, _, fragment = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"line {number}: {target} (no such file)")
            elif not linked.is_relative_to(root):
                broken.append(f"line {number}: {target} (outside the repository)")
            elif fragment and (linked.suffix != ".md" or fragment not in anchors(linked)):
                broken.append(f"line {number}: {target} (no heading #{fragment} in {linked.name})")
    return broken


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Signals: Ctrl-C and `SIGTERM` (exit 130)\n## Other\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n"
        "[fine](other.md#signals-ctrl-c-and-sigterm-exit-130) [repeat](other.md#other-1) [self](#page)\n"
        "[gone](missing.md) [bad anchor](other.md#signals) `[in code](missing.md)`\n"
        "```\n[in a block](missing.md)\n```\n"
        "[web](https://example.org/x.md)\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "line 3: missing.md (no such file)",
        "line 3: other.md#signals (no heading #signals in other.md)",
    ]


@pytest.mark.parametrize("folder", ["layers", "apps"])
def test_code_carries_no_dates_ratios_or_history(folder):
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HISTORY.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize("path", MODEL_CARDS, ids=lambda path: path.parent.name)
def test_each_model_card_is_short_and_has_its_sections(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 80
    headings = {anchor(match.group(2)) for _, line in prose_lines(text) if (match := HEADING.match(line))}
    assert {"how-it-was-made", "metrics", "what-it-is-bad-at", "size-and-speed"} <= headings
