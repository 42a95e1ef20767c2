"""Word-level text logic: diffs between revisions and machine provenance.

A body's provenance is a list of *machine spans*, `[start, end, autodoc_id]`
character ranges written by a model and not changed by anyone since. A word
counts as machine-written when it lies wholly inside a span. When a person
saves a new body, the words that survived the edit unchanged (by a word-level
diff) keep their spans; every other word is theirs.

Pure functions only: no Flask, no database.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

WORD_RE = re.compile(r"\S+")


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Segment:
    """A piece of a body, and the autodoc that wrote it (None: a person)."""

    text: str
    autodoc_id: int | None = None


@dataclass(frozen=True)
class DiffPart:
    """One run of a word diff: 'equal', 'delete' or 'insert', with its text."""

    op: str
    text: str


def words(text):
    return [Word(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def _matching_blocks(old_words, new_words):
    matcher = SequenceMatcher(
        a=[w.text for w in old_words], b=[w.text for w in new_words], autojunk=False
    )
    return matcher.get_opcodes()


def diff_words(old, new):
    """The word diff from `old` to `new` as DiffParts (shown space-separated).

    Whitespace inside a run is kept as typed, so line breaks survive."""
    old_words, new_words = words(old), words(new)
    parts = []
    for tag, i1, i2, j1, j2 in _matching_blocks(old_words, new_words):
        if tag == "equal":
            parts.append(DiffPart("equal", _span_text(new, new_words[j1:j2])))
            continue
        if i1 < i2:
            parts.append(DiffPart("delete", _span_text(old, old_words[i1:i2])))
        if j1 < j2:
            parts.append(DiffPart("insert", _span_text(new, new_words[j1:j2])))
    return parts


def _span_text(text, run):
    return text[run[0].start : run[-1].end]


def word_owners(text, spans):
    """For each word of `text`, the autodoc id whose span holds it, else None."""
    return [_owner(word, spans or ()) for word in words(text)]


def _owner(word, spans):
    inside = (
        owner for start, end, owner in spans if start <= word.start < word.end <= end
    )
    return next(inside, None)


def carry_spans(old_text, old_spans, new_text):
    """The machine spans of `new_text`: old machine words that survived unchanged."""
    old_words, new_words = words(old_text), words(new_text)
    old_owners = word_owners(old_text, old_spans)
    new_owners = [None] * len(new_words)
    for tag, i1, i2, j1, _ in _matching_blocks(old_words, new_words):
        if tag == "equal":
            for offset in range(i2 - i1):
                new_owners[j1 + offset] = old_owners[i1 + offset]
    return spans_from_owners(new_words, new_owners)


def spans_from_owners(word_list, owners):
    """Merge consecutive words of one autodoc into `[start, end, autodoc_id]`."""
    spans, previous = [], None
    for index, (word, owner) in enumerate(zip(word_list, owners, strict=True)):
        if owner is not None and previous == (index - 1, owner):
            spans[-1][1] = word.end
        elif owner is not None:
            spans.append([word.start, word.end, owner])
        previous = (index, owner)
    return spans


def append_spans(text, spans, addition, autodoc_id):
    """Spans after `addition` (written by `autodoc_id`) is appended to `text`."""
    appended = [
        [len(text) + w.start, len(text) + w.end, autodoc_id] for w in words(addition)
    ]
    if not appended:
        return list(spans or [])
    return [*(spans or []), [appended[0][0], appended[-1][1], autodoc_id]]


def machine_share(text, spans):
    """(machine-written words, all words) of `text`."""
    owners = word_owners(text, spans)
    return sum(owner is not None for owner in owners), len(owners)


def segments(text, spans):
    """`text` cut into Segments, machine words marked, whitespace kept."""
    pieces, cursor = [], 0
    for start, end, autodoc_id in sorted(spans or ()):
        if start > cursor:
            pieces.append(Segment(text[cursor:start]))
        pieces.append(Segment(text[start:end], autodoc_id))
        cursor = end
    if cursor < len(text):
        pieces.append(Segment(text[cursor:]))
    return pieces
