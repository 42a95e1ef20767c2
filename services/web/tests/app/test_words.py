"""Word diffs and machine provenance, on plain strings."""

import random
from difflib import SequenceMatcher

import pytest

from docdraft import worddiff, words


def test_diff_marks_deleted_and_inserted_words():
    parts = words.diff_words("the quick brown fox", "the slow brown fox jumps")
    assert [(p.op, p.text) for p in parts] == [
        ("equal", "the "),
        ("delete", "quick"),
        ("insert", "slow"),
        ("equal", " brown fox"),
        ("insert", " jumps"),
    ]


def test_diff_of_equal_texts_is_one_equal_part():
    assert [p.op for p in words.diff_words("a b c", "a b c")] == ["equal"]


def test_appended_machine_text_is_one_span_without_leading_space():
    body = "Debian is"
    spans = words.append_spans(body, [], " a free operating system.", 7)
    text = body + " a free operating system."
    assert spans == [[10, len(text), 7]]
    assert words.machine_share(text, spans) == (4, 6)


def test_editing_half_the_machine_words_keeps_the_other_half():
    body = "Intro."
    machine = " one two three four five six seven eight"
    text = body + machine
    spans = words.append_spans(body, [], machine, 3)
    edited = "Intro. one TWO three FOUR five SIX seven EIGHT"
    carried = words.carry_spans(text, spans, edited)
    owners = words.word_owners(edited, carried)
    assert owners == [None, 3, None, 3, None, 3, None, 3, None]
    assert words.machine_share(edited, carried) == (4, 9)


def test_a_word_changed_inside_is_no_longer_machine_written():
    spans = [[0, 11, 1]]
    carried = words.carry_spans("hello world", spans, "hello worlds")
    assert words.word_owners("hello worlds", carried) == [1, None]


def test_moved_text_keeps_provenance_of_the_surviving_run():
    text = "A B C D"
    spans = [[0, 7, 5]]
    new = "X A B C D"
    assert words.word_owners(new, words.carry_spans(text, spans, new)) == [
        None,
        5,
        5,
        5,
        5,
    ]


def test_segments_cover_the_whole_text_in_order():
    text = "mine, then model words, then mine"
    spans = [[11, 22, 9]]
    segments = words.segments(text, spans)
    assert "".join(s.text for s in segments) == text
    assert [(s.text, s.autodoc_id) for s in segments] == [
        ("mine, then ", None),
        ("model words", 9),
        (", then mine", None),
    ]


def test_empty_text_has_no_words_and_zero_share():
    assert words.machine_share("", []) == (0, 0)
    assert words.segments("", []) == []


def joined(parts, leave_out):
    return "".join(p.text for p in parts if p.op != leave_out)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # A line break right before and right after a changed word.
        (
            "Intro.\nfirst line\nlast",
            "Intro.\nFIRST line\nLAST",
            [
                ("equal", "Intro.\n"),
                ("delete", "first"),
                ("insert", "FIRST"),
                ("equal", " line\n"),
                ("delete", "last"),
                ("insert", "LAST"),
            ],
        ),
        # The first word of a paragraph removed: it stays in its paragraph.
        ("a\n\nb c", "a\n\nc", [("equal", "a\n\n"), ("delete", "b "), ("equal", "c")]),
        # A new paragraph appended keeps its blank line.
        ("a", "a\n\nb", [("equal", "a"), ("insert", "\n\nb")]),
        # Whitespace alone changed: shown, not lost.
        (
            "a b",
            "a\nb",
            [("equal", "a"), ("delete", " "), ("insert", "\n"), ("equal", "b")],
        ),
    ],
)
def test_diff_keeps_line_breaks_next_to_changed_words(old, new, expected):
    parts = words.diff_words(old, new)
    assert [(p.op, p.text) for p in parts] == expected
    assert joined(parts, "delete") == new and joined(parts, "insert") == old


def test_diff_page_markup_keeps_the_line_breaks(app):
    """What the diff page renders: the text and its line breaks, marks around."""
    parts = words.diff_words("one\ntwo\n\nthree", "one\nTWO\n\nthree four")
    with app.app_context():
        html = app.jinja_env.get_template("documents/_diff.html").render(parts=parts)
    assert (
        ">one\n<del>two</del> <ins>TWO</ins>\n\nthree<ins> four</ins></div>"
    ) in html


def long_body(size, seed=1):
    """Prose-like text of `size` characters: a few thousand words, Zipf-like
    (common words repeat hundreds of times), sentences and paragraphs."""
    rng = random.Random(seed)
    vocabulary = [f"word{i}" for i in range(3000)]
    weights = [1 / (rank + 1) for rank in range(3000)]
    sentences, length = [], 0
    while length < size:
        count = rng.randint(6, 20)
        sentence = " ".join(rng.choices(vocabulary, weights, k=count)) + "."
        sentence += "\n\n" if rng.random() < 0.15 else " "
        sentences.append(sentence)
        length += len(sentence)
    return "".join(sentences)[:size]


def edited(text, seed=2):
    """`text` with a word changed in eight places and a sentence in the middle."""
    rng = random.Random(seed)
    places = sorted(rng.sample(range(len(text)), 8), reverse=True)
    for number, place in enumerate(places):
        start = text.rfind(" ", 0, place) + 1
        end = text.find(" ", start)
        text = f"{text[:start]}CHANGED{number}{text[end:]}"
    middle = text.find(" ", len(text) // 2) + 1
    return f"{text[:middle]}An inserted sentence.\nOn two lines. {text[middle:]}"


def test_a_100k_body_diff_finds_exactly_the_edits():
    body = long_body(100_000)
    suggestion = " and the model goes on."
    old, new = body + suggestion, edited(body) + suggestion
    parts = words.diff_words(old, new)
    assert joined(parts, "delete") == new and joined(parts, "insert") == old
    inserted = [p.text for p in parts if p.op == "insert"]
    assert [text for text in inserted if "CHANGED" in text] == [
        f"CHANGED{n}" for n in reversed(range(8))
    ]
    assert " An inserted sentence.\nOn two lines." in inserted
    assert len([p for p in parts if p.op == "delete"]) == 8


def test_opcodes_match_difflib_on_a_long_body():
    """The anchored diff gives difflib's own answer (which takes seconds at
    100k characters, so compared here at 20k)."""
    body = long_body(20_000)
    old_words, new_words = body.split(), edited(body).split()
    matcher = SequenceMatcher(None, old_words, new_words, autojunk=False)
    assert worddiff.opcodes(old_words, new_words) == matcher.get_opcodes()


def test_a_100k_body_keeps_the_provenance_of_untouched_machine_words():
    body = long_body(100_000)
    suggestion = " and the model goes on to the end."
    spans = words.append_spans(body, [], suggestion, 7)
    text = body + suggestion
    assert words.machine_share(text, spans) == (8, len(text.split()))
    new = edited(text) + " mine"
    carried = words.carry_spans(text, spans, new)
    assert words.machine_share(new, carried) == (8, len(new.split()))
    assert carried == [[len(new) - 5 - len(suggestion) + 1, len(new) - 5, 7]]
    # A machine word changed in the middle of the body: the rest keep theirs.
    spans = [[0, len(body), 3]]
    new = edited(body)
    carried = words.carry_spans(body, spans, new)
    machine, total = words.machine_share(new, carried)
    assert total - machine == 8 + len("An inserted sentence. On two lines.".split())
    assert "".join(s.text for s in words.segments(new, carried)) == new


@pytest.mark.parametrize("seed", range(40))
def test_opcodes_rebuild_the_new_words_and_match_only_equal_words(seed):
    """Random small lists with few distinct words (no unique anchors)."""
    rng = random.Random(seed)
    a = rng.choices("abcde", k=rng.randint(0, 60))
    b = [w if rng.random() < 0.8 else rng.choice("abcdefg") for w in a]
    b[rng.randint(0, len(b)) : 0] = rng.choices("abxy", k=rng.randint(0, 5))
    rebuilt = []
    for tag, i1, i2, j1, j2 in worddiff.opcodes(a, b):
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        rebuilt += b[j1:j2]
    assert rebuilt == b


def test_text_too_costly_to_compare_still_gets_a_correct_diff():
    """Ten words repeated at random: no anchors, over the budget. The diff is
    coarser but still true (and is cut off, not left to run for seconds)."""
    rng = random.Random(3)
    old = " ".join(rng.choices("abcdefghij", k=20_000))
    new = " ".join(w if rng.random() < 0.9 else "k" for w in old.split())
    parts = words.diff_words(old, new)
    assert joined(parts, "delete") == new and joined(parts, "insert") == old


@pytest.mark.parametrize("spent", ["MATCHER_STEPS", "ANCHOR_VISITS"])
def test_a_diff_past_its_budget_is_coarser_but_true(monkeypatch, spent):
    monkeypatch.setattr(worddiff, spent, 0)
    old = long_body(5_000)
    new = edited(old)
    parts = words.diff_words(old, new)
    assert joined(parts, "delete") == new and joined(parts, "insert") == old
